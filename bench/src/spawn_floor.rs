//! The floor for per-item workers: N threads, each spawning a command and waiting for it, with
//! nothing else. Usage: spawn_floor THREADS COUNT CMD [ARGS...]
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args[1].parse().unwrap();
    let count: usize = args[2].parse().unwrap();
    let cmd = &args[3..];
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let status = Command::new(&cmd[0])
                        .args(&cmd[1..])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .unwrap();
                    assert!(status.success());
                }
            });
        }
    });
}
