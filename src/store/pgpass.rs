//! The password file of PostgreSQL's own tools (`~/.pgpass`, or the file `PGPASSFILE` names),
//! read as libpq reads it: lines `hostname:port:database:username:password`, `*` matching
//! anything, `\:` and `\\` standing for `:` and `\`, `#` lines ignored, the first match
//! winning; a file that others may read is ignored (libpq warns and does the same).

use std::path::{Path, PathBuf};

/// Where the password file is: `PGPASSFILE`, else `~/.pgpass`.
pub(super) fn file() -> Option<PathBuf> {
    match std::env::var_os("PGPASSFILE") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => std::env::var_os("HOME").map(|home| Path::new(&home).join(".pgpass")),
    }
}

/// The password for (host, port, database, user) in the file at `path`, if it is a regular
/// file that only its owner may read and a line matches.
pub(super) fn lookup(path: &Path, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 || meta.len() > 1 << 20 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    find(&text, host, port, db, user)
}

/// The first line of `text` that matches.
fn find(text: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    let wanted = [host, port.as_str(), db, user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(fields)
        .find(|f| {
            f.iter()
                .take(4)
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want)
        })
        .map(|mut f| f.pop().unwrap_or_default())
}

/// The five fields of a line, escapes undone; `None` for a line with fewer.
fn fields(line: &str) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.last_mut()?.push(chars.next().unwrap_or('\\')),
            ':' if out.len() < 5 => out.push(String::new()),
            _ => out.last_mut()?.push(c),
        }
    }
    (out.len() == 5).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# comment
db.lab:5432:runs:ana:first
db.lab:*:*:ana:second
*:*:*:*:any\\:thing\\\\
short:line
";

    #[test]
    fn the_first_matching_line_gives_the_password() {
        assert_eq!(
            find(FILE, "db.lab", 5432, "runs", "ana").as_deref(),
            Some("first")
        );
        assert_eq!(
            find(FILE, "db.lab", 6543, "other", "ana").as_deref(),
            Some("second")
        );
        assert_eq!(
            find(FILE, "elsewhere", 5432, "runs", "bo").as_deref(),
            Some("any:thing\\")
        );
        assert_eq!(
            find("db.lab:5432:runs:ana:x\n", "db.lab", 5432, "runs", "bo"),
            None
        );
        assert_eq!(find("a:b:c:d\n", "a", 1, "c", "d"), None);
        // A colon in a field, escaped.
        assert_eq!(
            find("h\\:1:5432:d:u:pw\n", "h:1", 5432, "d", "u").as_deref(),
            Some("pw")
        );
    }

    #[test]
    fn a_file_others_may_read_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(lookup(&path, "h", 5432, "d", "u"), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            lookup(&path, "h", 5432, "d", "u").as_deref(),
            Some("secret")
        );
        assert_eq!(lookup(&dir.path().join("none"), "h", 5432, "d", "u"), None);
        assert_eq!(lookup(dir.path(), "h", 5432, "d", "u"), None);
    }
}
