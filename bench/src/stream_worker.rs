//! A trivial compiled stream worker for the benchmarks: answers each item line with
//! `{"key":<the same key>,"ok":1}`, flushing whenever its input runs dry.
use std::io::{BufRead, BufReader, BufWriter, Write};

fn main() {
    let stdin = std::io::stdin();
    let mut input = BufReader::with_capacity(1 << 16, stdin.lock());
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).unwrap() == 0 {
            break;
        }
        // The line starts {"key":"...": the key runs to the next unescaped quote.
        let start = 8;
        let mut end = start;
        while end < line.len() && line[end] != b'"' {
            end += if line[end] == b'\\' { 2 } else { 1 };
        }
        out.write_all(b"{\"key\":\"").unwrap();
        out.write_all(&line[start..end.min(line.len())]).unwrap();
        out.write_all(b"\",\"ok\":1}\n").unwrap();
        if input.buffer().is_empty() {
            out.flush().unwrap();
        }
    }
    out.flush().unwrap();
}
