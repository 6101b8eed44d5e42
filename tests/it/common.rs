//! A sandbox per test: a temp folder as working directory, a clean environment and a private
//! PATH directory for fake plugins.
//!
//! Every run of the binary goes through [`Cmd::run`] or [`Spawned::wait`], which gather the
//! output with [`collect`] and check stderr for panics and backtraces ([`assert_no_panic`]):
//! the binary runs with RUST_BACKTRACE=1, so a panic anywhere would show. [`Sandbox::cmd`]
//! hands out a [`Cmd`], not a `Command`, so no test can run runctl around that check.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const RUNCTL: &str = env!("CARGO_BIN_EXE_runctl");

/// Whether the suite runs on PostgreSQL (`RUNCTL_TEST_STORE=postgres`): every sandbox gets a
/// database of its own there, but those of tests about `state.db` itself
/// ([`Sandbox::on_sqlite`]).
pub fn on_postgres_suite() -> bool {
    std::env::var("RUNCTL_TEST_STORE").is_ok_and(|s| s == "postgres")
}

pub struct Sandbox {
    pub tmp: TempDir,
    /// `RUNCTL_DATABASE_URL` for every command: a database of its own on the test
    /// PostgreSQL server ([`Sandbox::on_postgres`]); `None` for `.runctl/state.db`.
    pub db_url: Option<String>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let tmp = tempfile::Builder::new()
            .prefix("runctl-it")
            .tempdir()
            .unwrap();
        std::fs::create_dir(tmp.path().join("bin")).unwrap();
        std::fs::create_dir(tmp.path().join("work")).unwrap();
        // The whole suite again on PostgreSQL: `RUNCTL_TEST_STORE=postgres` (.ci/run does).
        let db_url = match on_postgres_suite() {
            true => crate::pg::server().map(crate::pg::PgServer::new_database),
            false => None,
        };
        Sandbox { tmp, db_url }
    }

    /// A sandbox on SQLite whatever the suite runs on: for a test about `state.db` itself.
    pub fn on_sqlite() -> Sandbox {
        let mut sb = Sandbox::new();
        sb.db_url = None;
        sb
    }

    /// A sandbox whose commands keep their state in a new database on the test PostgreSQL
    /// server; `None` (said on stderr) where no server can run and `CI` is not set.
    pub fn on_postgres() -> Option<Sandbox> {
        let server = crate::pg::server()?;
        let mut sb = Sandbox::new();
        sb.db_url = Some(server.new_database());
        Some(sb)
    }

    /// The working directory of commands (not a project until a test makes it one).
    pub fn work(&self) -> PathBuf {
        self.tmp.path().join("work")
    }

    /// A PATH directory holding only what the test puts there.
    pub fn bin(&self) -> PathBuf {
        self.tmp.path().join("bin")
    }

    pub fn path_var(&self) -> String {
        format!("{}:/usr/bin:/bin", self.bin().display())
    }

    /// runctl in `work/`, with a cleared environment (and RUST_BACKTRACE=1, as on these
    /// machines, to prove no backtrace leaks).
    pub fn cmd(&self) -> Cmd {
        self.cmd_in(&self.work())
    }

    /// runctl in `dir`, environment as [`Sandbox::cmd`].
    pub fn cmd_in(&self, dir: &Path) -> Cmd {
        self.program_in(RUNCTL, dir)
    }

    /// `/bin/sh -c SCRIPT` in `work/`, environment as [`Sandbox::cmd`]: for runctl under a
    /// shell's limits (`ulimit`, redirections). Its stderr is checked as runctl's would be.
    pub fn sh(&self, script: &str) -> Cmd {
        let mut cmd = self.program_in("/bin/sh", &self.work());
        cmd.arg("-c").arg(script);
        cmd
    }

    fn program_in(&self, program: &str, dir: &Path) -> Cmd {
        let mut cmd = std::process::Command::new(program);
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", self.path_var())
            .env("HOME", self.tmp.path())
            .env("RUST_BACKTRACE", "1");
        if let Some(url) = &self.db_url {
            cmd.env("RUNCTL_DATABASE_URL", url);
        }
        Cmd {
            cmd,
            input: None,
            stdin: None,
            stdout: None,
            timeout: None,
        }
    }

    /// `runctl ARGS` in `work/`, waited for and checked.
    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd().args(args).run()
    }

    /// `runctl ARGS` in `dir`, waited for and checked.
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Run {
        self.cmd_in(dir).args(args).run()
    }

    /// runctl ARGS started in the background in `work/`, environment as [`Sandbox::cmd`],
    /// stdout and stderr piped; [`Spawned::wait`] gathers and checks what it printed.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        self.cmd().args(args).spawn()
    }

    /// runctl ARGS in `work/` in a real terminal (a PTY), environment as [`Sandbox::cmd`] with
    /// TERM=xterm; what it shows is checked for panics when it ends ([`Pty::exp_eof`]).
    pub fn pty(&self, args: &[&str], timeout_ms: u64) -> Pty {
        let mut cmd = std::process::Command::new(RUNCTL);
        cmd.current_dir(self.work())
            .env_clear()
            .env("PATH", self.path_var())
            .env("HOME", self.tmp.path())
            .env("RUST_BACKTRACE", "1")
            .env("TERM", "xterm")
            .args(args);
        if let Some(url) = &self.db_url {
            cmd.env("RUNCTL_DATABASE_URL", url);
        }
        Pty {
            session: rexpect::session::spawn_command(cmd, Some(timeout_ms)).unwrap(),
            screen: String::new(),
        }
    }

    /// Make `work/` a project.
    pub fn init(&self) {
        self.run(&["init"]).success();
    }

    /// `runctl new --model m --source SOURCE --key id`, which must succeed: a run over the
    /// items of a file in `work/`.
    pub fn new_run_over(&self, source: &str) {
        let out = self.run(&["new", "--model", "m", "--source", source, "--key", "id"]);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }

    /// Write an executable into the private PATH directory.
    pub fn plugin(&self, name: &str, script: &str) -> PathBuf {
        write_exec(&self.bin().join(format!("runctl-{name}")), script)
    }

    /// How many runs `runctl list --json ARGS` lists (every run, superseded ones too, unless
    /// ARGS filter them).
    pub fn runs_listed(&self, args: &[&str]) -> usize {
        let out = self.cmd().args(["list", "--json"]).args(args).run();
        out.success();
        out.json().as_array().unwrap().len()
    }

    pub fn db(&self) -> PathBuf {
        self.work().join(".runctl/state.db")
    }

    /// The whole store, to check it unchanged: `state.db` byte for byte, or on PostgreSQL its
    /// dump but for where its id sequences stand (a rolled-back insert still takes a number:
    /// PostgreSQL's sequences are not transactional).
    pub fn whole_db(&self) -> Vec<u8> {
        match &self.db_url {
            None => std::fs::read(self.db()).unwrap(),
            Some(url) => crate::pg::server()
                .unwrap()
                .dump(url.rsplit('/').next().unwrap())
                .lines()
                .filter(|l| !l.starts_with("SELECT pg_catalog.setval("))
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
        }
    }

    /// The store's tables, for SQL a test reads or writes around the CLI: `state.db`, or this
    /// sandbox's PostgreSQL database.
    pub fn tables(&self) -> Tables {
        match &self.db_url {
            Some(url) => Tables::Postgres(url.rsplit('/').next().unwrap().to_string()),
            None => {
                let conn = rusqlite::Connection::open(self.db()).unwrap();
                conn.busy_timeout(Duration::from_secs(10)).unwrap();
                Tables::Sqlite(conn)
            }
        }
    }

    /// `text` made stable for a snapshot: this sandbox's temp folder written `[TMP]`, and run
    /// ids, timestamps, hashes of temp paths and elapsed times masked.
    pub fn redact(&self, text: &str) -> String {
        let tmp = self.tmp.path().display().to_string();
        let text = text.replace(&tmp, "[TMP]");
        let text = mask(&text, "99999999_999999_999999_ffff", "[RUN_ID]");
        let text = mask(&text, "9999-99-99T99:99:99", "[TIME]");
        let text = mask(&text, ":hash=ffffffff", ":hash=[HASH]");
        text.lines()
            .map(mask_elapsed)
            .map(|line| line + "\n")
            .collect()
    }

    /// Exit code, stdout and stderr of `run` as one stable text, for `insta` snapshots.
    pub fn transcript(&self, run: &Run) -> String {
        use std::os::unix::process::ExitStatusExt;
        let code = match (run.code, run.status.signal()) {
            (Some(code), _) => code.to_string(),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => format!("{:?}", run.status),
        };
        self.redact(&format!(
            "exit: {code}\n--- stdout\n{}--- stderr\n{}",
            run.stdout, run.stderr
        ))
    }
}

/// A command line being put together, in the sandbox's environment; the only ways to start it
/// are [`Cmd::run`] and [`Cmd::spawn`], both of which check what it printed.
pub struct Cmd {
    cmd: std::process::Command,
    input: Option<Vec<u8>>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    timeout: Option<Duration>,
}

impl Cmd {
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Cmd {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Cmd {
        self.cmd.env(key, value);
        self
    }

    /// Bytes written to the child's stdin (then closed) by [`Cmd::run`].
    pub fn write_stdin(&mut self, input: impl Into<Vec<u8>>) -> &mut Cmd {
        self.input = Some(input.into());
        self
    }

    /// The child's stdin (null unless set: no test waits on a terminal).
    pub fn stdin(&mut self, stdin: Stdio) -> &mut Cmd {
        self.stdin = Some(stdin);
        self
    }

    /// The child's stdout (piped and gathered unless set).
    pub fn stdout(&mut self, stdout: Stdio) -> &mut Cmd {
        self.stdout = Some(stdout);
        self
    }

    /// Kill the child and fail the test if it has not ended after `limit`.
    pub fn timeout(&mut self, limit: Duration) -> &mut Cmd {
        self.timeout = Some(limit);
        self
    }

    /// Run to the end; the output, checked for panics.
    pub fn run(&mut self) -> Run {
        let input = self.input.take();
        if input.is_some() {
            self.stdin = Some(Stdio::piped());
        }
        let mut child = self.spawn();
        if let Some(input) = input {
            let mut pipe = child.stdin.take().unwrap();
            // Not joined: a child that exits without reading all of it ends the write with
            // EPIPE, and the test looks only at what the child did.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        child.wait()
    }

    /// Start in the background, stdout and stderr piped.
    pub fn spawn(&mut self) -> Spawned {
        let child = self
            .cmd
            .stdin(self.stdin.take().unwrap_or_else(Stdio::null))
            .stdout(self.stdout.take().unwrap_or_else(Stdio::piped))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Spawned {
            child,
            timeout: self.timeout,
        }
    }
}

/// A child started by [`Cmd::spawn`]; derefs to the [`Child`] for its pid, stdin and kill.
pub struct Spawned {
    child: Child,
    timeout: Option<Duration>,
}

impl Spawned {
    /// Wait for the child, gather its output with [`collect`] and check it for panics.
    pub fn wait(self) -> Run {
        let deadline = self.timeout.map(|limit| Instant::now() + limit);
        Run::checked(collect_until(self.child, deadline))
    }
}

impl std::ops::Deref for Spawned {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.child
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

/// A runctl in a PTY that keeps all it has shown, so that its end can be checked for panics.
pub struct Pty {
    session: rexpect::session::PtySession,
    screen: String,
}

type PtyResult<T> = Result<T, rexpect::error::Error>;

impl Pty {
    /// Wait for `needle`; the text shown before it.
    pub fn exp_string(&mut self, needle: &str) -> PtyResult<String> {
        let before = self.session.exp_string(needle)?;
        self.screen.push_str(&before);
        self.screen.push_str(needle);
        Ok(before)
    }

    /// Wait for the end; the text shown since the last match. Fails the test if anything shown
    /// carries a panic or a backtrace.
    pub fn exp_eof(&mut self) -> PtyResult<String> {
        let rest = self.session.exp_eof()?;
        self.screen.push_str(&rest);
        assert_text_has_no_panic(&self.screen);
        Ok(rest)
    }

    pub fn send(&mut self, text: &str) -> PtyResult<usize> {
        self.session.send(text)
    }

    pub fn send_control(&mut self, c: char) -> PtyResult<()> {
        self.session.send_control(c)
    }

    pub fn flush(&mut self) -> PtyResult<()> {
        self.session.flush()
    }

    pub fn process(&self) -> &rexpect::process::PtyProcess {
        self.session.process()
    }
}

/// What a run of the binary left: exit code, stdout and stderr as text, and the raw output
/// (which it derefs to, for `status` and the bytes).
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub raw: Output,
}

impl Run {
    fn checked(raw: Output) -> Run {
        assert_no_panic(&raw);
        Run {
            code: raw.status.code(),
            stdout: String::from_utf8_lossy(&raw.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&raw.stderr).into_owned(),
            raw,
        }
    }

    /// Stdout parsed as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.raw.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Stdout parsed as JSON lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
            })
            .collect()
    }

    /// Fail unless the run exited 0.
    pub fn success(&self) -> &Run {
        assert_eq!(self.code, Some(0), "{}", self.stderr);
        self
    }
}

impl std::ops::Deref for Run {
    type Target = Output;
    fn deref(&self) -> &Output {
        &self.raw
    }
}

pub fn write_exec(path: &Path, script: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `text` with every match of `pattern` replaced by `label`: in the pattern `9` stands for a
/// digit and `f` for a lowercase hex digit, any other character for itself. A timestamp's
/// fraction and zone (`.123456Z`) go with it.
fn mask(text: &str, pattern: &str, label: &str) -> String {
    let fits = |c: char, p: char| match p {
        '9' => c.is_ascii_digit(),
        'f' => c.is_ascii_digit() || ('a'..='f').contains(&c),
        _ => c == p,
    };
    let chars: Vec<char> = text.chars().collect();
    let pat: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let here = &chars[i..];
        if here.len() >= pat.len() && here.iter().zip(&pat).all(|(c, p)| fits(*c, *p)) {
            out.push_str(label);
            i += pat.len();
            if label == "[TIME]" {
                while i < chars.len() && (chars[i].is_ascii_digit() || ".Z".contains(chars[i])) {
                    i += 1;
                }
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A summary's ` in 0.3s (146.9/s)` (or `(15/min)`, `(3.6/h)`) written ` in [ELAPSED]`.
fn mask_elapsed(line: &str) -> String {
    let Some(start) = line.rfind(" in ") else {
        return line.to_string();
    };
    let rest = &line[start + " in ".len()..];
    let Some(close) = rest.find(')') else {
        return line.to_string();
    };
    let timed = rest[..close].split_once(" (").is_some_and(|(took, rate)| {
        !took.contains(' ') && ["/s", "/min", "/h"].iter().any(|unit| rate.ends_with(unit))
    });
    if timed {
        format!("{} in [ELAPSED]{}", &line[..start], &rest[close + 1..])
    } else {
        line.to_string()
    }
}

/// Stderr must never carry a panic or a backtrace.
pub fn assert_no_panic(output: &std::process::Output) {
    assert_text_has_no_panic(&stderr(output));
}

fn assert_text_has_no_panic(err: &str) {
    for bad in [
        "panicked",
        "stack backtrace",
        "RUST_BACKTRACE",
        "internal error",
    ] {
        assert!(!err.contains(bad), "stderr shows {bad:?}:\n{err}");
    }
}

/// The schema-v1 fixture, as an older runctl left it.
pub fn fixture_v1() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1.db")
}

/// A project in `work/` whose DB is the v1 fixture.
pub fn project_at_v1(sb: &Sandbox) -> Vec<u8> {
    std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
    std::fs::copy(fixture_v1(), sb.db()).unwrap();
    std::fs::read(sb.db()).unwrap()
}

/// The entries of `dir` whose file name `keep` takes, sorted (none when `dir` is missing).
pub fn entries(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    found.retain(|p| keep(&p.file_name().unwrap().to_string_lossy()));
    found.sort();
    found
}

pub fn backups(sb: &Sandbox) -> Vec<PathBuf> {
    entries(&sb.work().join(".runctl"), |n| {
        n.starts_with("state.db.bak-")
    })
}

/// `chattr +i` on a path for as long as the guard lives (tests run as root, for whom plain
/// permissions refuse nothing); `chattr -i` again on drop, even when the test fails.
pub struct Immutable(PathBuf);

impl Immutable {
    pub fn set(path: &Path) -> Immutable {
        chattr("+i", path);
        Immutable(path.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        chattr("-i", &self.0);
    }
}

pub fn chattr(flag: &str, path: &Path) {
    let ok = std::process::Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "chattr {flag} {} failed", path.display());
}

/// Wait for a spawned child and gather what it printed: std's `wait_with_output` unwraps a
/// read error inside the standard library, and with dozens of children at once on a loaded
/// machine a read of a pipe can come back `EAGAIN`; here each pipe is drained on its own
/// thread, retrying what is only "not yet", so only the child's real output decides a test.
pub fn collect(child: Child) -> Output {
    collect_until(child, None)
}

/// [`collect`], killing the child and failing the test if it is still running at `deadline`.
fn collect_until(mut child: Child, deadline: Option<Instant>) -> Output {
    fn drain<R: std::io::Read + Send + 'static>(
        pipe: Option<R>,
    ) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let Some(mut pipe) = pipe else { return got };
            let mut buf = [0u8; 64 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => return got,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                        ) =>
                    {
                        std::thread::sleep(std::time::Duration::from_millis(1))
                    }
                    Err(e) => panic!("reading a child's output: {e}"),
                }
            }
        })
    }
    drop(child.stdin.take());
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    if let Some(deadline) = deadline {
        while child.try_wait().unwrap().is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("runctl did not end in time");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    let status = child.wait().unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Every path under `root` with what it is: file contents, a symlink's target, or a folder.
pub fn tree(root: &Path) -> std::collections::BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel.starts_with(".runctl") {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                out.insert(
                    rel,
                    format!("-> {}", std::fs::read_link(&path).unwrap().display()),
                );
            } else if meta.is_dir() {
                out.insert(rel, "dir".into());
                walk(root, &path, out);
            } else {
                out.insert(
                    rel,
                    String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
                );
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A store's tables for a test's own SQL ([`Sandbox::tables`]), on either engine: `?1`, `?2`
/// take text parameters, every value comes back as text (NULL as `None`).
pub enum Tables {
    Sqlite(rusqlite::Connection),
    /// The database's name on the test server.
    Postgres(String),
}

impl Tables {
    /// Every row of `sql`.
    pub fn rows(&self, sql: &str, params: &[&str]) -> Vec<Vec<Option<String>>> {
        match self {
            Tables::Sqlite(conn) => {
                let mut stmt = conn.prepare(sql).unwrap();
                let n = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(params)).unwrap();
                let mut out = Vec::new();
                while let Some(row) = rows.next().unwrap() {
                    out.push(
                        (0..n)
                            .map(|i| sqlite_text(row.get_ref(i).unwrap()))
                            .collect(),
                    );
                }
                out
            }
            Tables::Postgres(db) => {
                let mut sql = sql.to_string();
                for (i, p) in params.iter().enumerate().rev() {
                    let literal = format!("'{}'", p.replace('\'', "''"));
                    sql = sql.replace(&format!("?{}", i + 1), &literal);
                }
                crate::pg::server().unwrap().rows(db, &sql)
            }
        }
    }

    /// Run a statement (or several, `;`-separated, without parameters).
    pub fn exec(&self, sql: &str, params: &[&str]) {
        match self {
            Tables::Sqlite(conn) if params.is_empty() => conn.execute_batch(sql).unwrap(),
            Tables::Sqlite(conn) => {
                conn.execute(sql, rusqlite::params_from_iter(params))
                    .unwrap();
            }
            Tables::Postgres(_) => {
                self.rows(sql, params);
            }
        }
    }

    /// The one value of `sql`, parsed.
    pub fn one<T: std::str::FromStr>(&self, sql: &str, params: &[&str]) -> T
    where
        T::Err: std::fmt::Debug,
    {
        self.opt(sql, params)
            .unwrap_or_else(|| panic!("NULL or no row: {sql}"))
    }

    /// The first value of `sql`, parsed; `None` for NULL or no row.
    pub fn opt<T: std::str::FromStr>(&self, sql: &str, params: &[&str]) -> Option<T>
    where
        T::Err: std::fmt::Debug,
    {
        let rows = self.rows(sql, params);
        let value = rows.first()?.first()?.as_ref()?;
        Some(value.parse().unwrap())
    }
}

fn sqlite_text(v: rusqlite::types::ValueRef<'_>) -> Option<String> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}
