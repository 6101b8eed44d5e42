//! A private PostgreSQL server for this test binary, started on first use: `initdb` into a
//! temp folder (as the `postgres` user when the tests run as root, since initdb refuses root),
//! `pg_ctl start` on 127.0.0.1 at a free port with its socket in that folder, and a watchdog
//! that stops it and removes the folder once this process has gone, however it ends. Each test
//! gets a database of its own ([`PgServer::new_database`]).
//!
//! Without PostgreSQL on the machine the tests that need it say loudly that they were skipped;
//! with `CI` set, a server that cannot start fails them, so CI always runs them (.ci/run
//! installs PostgreSQL where it is missing).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The test server: where its binaries are, and its port.
pub struct PgServer {
    bin: PathBuf,
    pub port: u16,
}

/// A role of the server that must give its password, [`PASSWORD`], where the others are
/// trusted.
pub const PASSWORD_ROLE: &str = "pwuser";
pub const PASSWORD: &str = "pw-s3cret";

static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// The server, or `None` (after saying so on stderr) when PostgreSQL is not installed here
/// and `CI` is not set.
pub fn server() -> Option<&'static PgServer> {
    match SERVER.get_or_init(start) {
        Ok(server) => Some(server),
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: a PostgreSQL test, as no server could start here: {why}");
            None
        }
        Err(why) => panic!("CI must run the PostgreSQL tests, but no server could start: {why}"),
    }
}

impl PgServer {
    /// A new, empty database on the server; its URL.
    pub fn new_database(&self) -> String {
        let n = DATABASES.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// A new, empty database owned by [`PASSWORD_ROLE`]; its name.
    pub fn new_database_of_password_role(&self) -> String {
        let n = DATABASES.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}_{n}", std::process::id());
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {name} OWNER {PASSWORD_ROLE}"),
        );
        name
    }

    /// The URL of database `name` (no password: the server trusts local connections).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://runctl@127.0.0.1:{}/{name}", self.port)
    }

    /// Run SQL in database `db` with psql; its output (unaligned, tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.run_psql(db, sql, &[])
    }

    /// Every row of `sql` in database `db`, each value as text (NULL as `None`).
    pub fn rows(&self, db: &str, sql: &str) -> Vec<Vec<Option<String>>> {
        const NULL: &str = "\u{1}NULL";
        let null = format!("null={NULL}");
        let text = self.run_psql(db, sql, &["-F", "\u{1f}", "-R", "\u{1e}", "-P", &null]);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        text.split('\u{1e}')
            .filter(|row| !row.is_empty())
            .map(|row| {
                row.split('\u{1f}')
                    .map(|v| (v != NULL).then(|| v.to_string()))
                    .collect()
            })
            .collect()
    }

    /// psql with `format` options over database `db` (unaligned, tuples only, stopping at
    /// the first error, which fails the test); its output.
    fn run_psql(&self, db: &str, sql: &str, format: &[&str]) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args(format)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "runctl",
                "-d",
                db,
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `pg_dump` of database `db` (schema and rows), for "left unchanged" checks.
    pub fn dump(&self, db: &str) -> String {
        let out = Command::new(self.bin.join("pg_dump"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "runctl",
                db,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // pg_dump brackets its output with \restrict and \unrestrict lines that carry a new
        // random key each time: not part of the database.
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict "))
            .map(|l| format!("{l}\n"))
            .collect()
    }
}

/// The newest PostgreSQL installed as Debian lays it out (`/usr/lib/postgresql/<n>/bin`).
fn binaries() -> Result<PathBuf, String> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("/usr/lib/postgresql: {e}"))?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_string())
}

/// Run a server program, as the `postgres` user when this process is root.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn start() -> Result<PgServer, String> {
    let bin = binaries()?;
    let dir = tempfile::Builder::new()
        .prefix("runctl-pg")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    if is_root() {
        let chown = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !chown.success() {
            return Err("cannot give the data folder to the postgres user".into());
        }
    }
    let init = as_server_user(&bin.join("initdb"))
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-U", "runctl", "--auth=trust", "-E", "UTF8", "--no-sync"])
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !init.status.success() {
        return Err(format!("initdb: {}", String::from_utf8_lossy(&init.stderr)));
    }
    // One role that must give its password (PASSWORD_ROLE), before the trust of the others.
    let hba = dir.join("data/pg_hba.conf");
    let trusted = std::fs::read_to_string(&hba).map_err(|e| format!("pg_hba.conf: {e}"))?;
    std::fs::write(
        &hba,
        format!("host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n{trusted}"),
    )
    .map_err(|e| format!("pg_hba.conf: {e}"))?;
    // A port taken between choosing it and the server binding it: choose again.
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=200",
            dir.display()
        );
        let started = as_server_user(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(dir.join("data"))
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-w", "-o", &options, "start"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if started.status.success() {
            watch(&bin, &dir);
            let server = PgServer { bin, port };
            server.psql(
                "postgres",
                &format!("CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'"),
            );
            return Ok(server);
        }
        last = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    }
    Err(format!("pg_ctl start failed: {last}"))
}

/// Stop the server and remove its folder once this process has gone.
fn watch(bin: &Path, dir: &Path) {
    let script = format!(
        "while [ -d /proc/{pid} ]; do sleep 1; done; \
         {stop} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        stop = bin.join("pg_ctl").display(),
        data = dir.join("data").display(),
        dir = dir.display(),
    );
    // As the server's user: the folder is its own after the chown.
    let mut cmd = as_server_user(Path::new("/bin/sh"));
    cmd.arg("-c").arg(script);
    let _ = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// Whether the tests run as root (whose /proc/self is root's).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(54329)
}
