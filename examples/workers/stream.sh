#!/bin/sh
# A stream worker in plain sh: one result line per item line. runctl sends
# {"key":"<key>","data":{...},"location":...,"attempt":N}; the key is cut out with parameter
# expansion (keys with quotes or backslashes in them need a JSON parser: see stream.py).
# printf is a shell builtin, so each answer is written at once, unbuffered.
#
#   runctl new --source cases.csv --key incident_id --stream -- sh stream.sh
while IFS= read -r line; do
  key=${line#*\"key\":\"}
  key=${key%%\"*}
  printf '{"key":"%s","ok":{"bytes":%d}}\n' "$key" "${#line}"
done
