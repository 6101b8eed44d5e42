//! The three threads that serve a stream worker's pipes, so that its slot never blocks on one:
//! a writer (item lines in, flushed when the queue runs dry), a reader (result lines out, in
//! batches of what is buffered, a line over the output cap reported and skipped), and a stderr
//! reader (appended to the slot's log, its tail kept for error messages).

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Mutex;

use crossbeam_channel::{Receiver, Sender};

use super::process::{MAX_OUTPUT, STDERR_TAIL, keep_tail};

/// What the stdout reader thread passes on.
pub(crate) enum Lines {
    Batch(Vec<Vec<u8>>),
    TooLong,
    End,
}

/// The writer thread: item lines to the worker's stdin, flushed whenever the queue runs dry.
pub(crate) fn write_lines(stdin: std::process::ChildStdin, rx: &Receiver<String>) {
    let mut out = std::io::BufWriter::with_capacity(64 << 10, stdin);
    while let Ok(line) = rx.recv() {
        if out.write_all(line.as_bytes()).is_err() {
            return;
        }
        while let Ok(more) = rx.try_recv() {
            if out.write_all(more.as_bytes()).is_err() {
                return;
            }
        }
        if out.flush().is_err() {
            return;
        }
    }
}

/// The reader thread: result lines from the worker's stdout, in batches of what is buffered.
pub(crate) fn read_lines(stdout: std::process::ChildStdout, tx: &Sender<Lines>) {
    let mut reader = BufReader::with_capacity(256 << 10, stdout);
    loop {
        let mut batch = Vec::new();
        loop {
            let mut line = Vec::new();
            let limit = u64::try_from(MAX_OUTPUT).unwrap_or(u64::MAX) + 1;
            match (&mut reader).take(limit).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => {
                    if !batch.is_empty() {
                        let _ = tx.send(Lines::Batch(batch));
                    }
                    let _ = tx.send(Lines::End);
                    return;
                }
                Ok(_) if line.len() > MAX_OUTPUT => {
                    if !batch.is_empty()
                        && tx.send(Lines::Batch(std::mem::take(&mut batch))).is_err()
                    {
                        return;
                    }
                    if tx.send(Lines::TooLong).is_err() {
                        return;
                    }
                    skip_line(&mut reader);
                }
                Ok(_) => batch.push(line),
            }
            if batch.len() >= 512 || !reader.buffer().contains(&b'\n') {
                break;
            }
        }
        if !batch.is_empty() && tx.send(Lines::Batch(batch)).is_err() {
            return;
        }
    }
}

fn skip_line<R: BufRead>(reader: &mut R) {
    loop {
        let (used, done) = match reader.fill_buf() {
            Ok([]) | Err(_) => return,
            Ok(buf) => match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            },
        };
        reader.consume(used);
        if done {
            return;
        }
    }
}

/// The stderr thread: appended to the slot's log, its tail kept for error messages.
pub(crate) fn keep_stderr(
    mut err: std::process::ChildStderr,
    tail: &Mutex<Vec<u8>>,
    mut log: Option<std::fs::File>,
) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match err.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = buf.get(..n).unwrap_or_default();
        if let Some(file) = log.as_mut() {
            let _ = file.write_all(chunk);
        }
        if let Ok(mut t) = tail.lock() {
            keep_tail(&mut t, chunk, STDERR_TAIL);
        }
    }
}
