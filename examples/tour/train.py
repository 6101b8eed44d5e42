"""A stand-in for a training script: it reads the run's folder from RUN_DIR (runctl puts the
run's metadata in the environment of the command it runs), prints its progress, and writes a
checkpoint there. `runctl new --config train.yaml -- python3 train.py` runs it as a recorded run;
its output is kept in logs/<run>/stdout.log (`runctl logs latest`)."""
import json
import os
import pathlib
import time

run_dir = pathlib.Path(os.environ["RUN_DIR"])
loss = 2.0
for epoch in range(1, 4):
    time.sleep(0.1)
    loss *= 0.6
    print(f"{os.environ['RUN_NAME']}: epoch {epoch} loss {loss:.3f}")
(run_dir / "checkpoint.json").write_text(json.dumps({"epoch": 3, "loss": round(loss, 3)}))
print(f"wrote {run_dir / 'checkpoint.json'}")
