//! `runctl man` over the binary: one page per command, printed or written into a folder, the
//! examples of `--help` intact once groff renders them, and every bad `--dir` refused with an
//! `error:` line and nothing half written.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::common::*;

/// The page names the clap tree calls for: runctl, then runctl-<path> for every command.
fn expected_pages() -> Vec<String> {
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = format!("{prefix}-{}", sub.get_name());
            out.push(format!("{name}.1"));
            walk(sub, &name, out);
        }
    }
    let mut out = vec!["runctl.1".to_string()];
    walk(&runctl::cli::Cli::command(), "runctl", &mut out);
    out.sort();
    out
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `page` rendered by groff as plain text (no bold, no underline), or `None` when this machine
/// has no groff. CI installs it (.ci/run), so there the check always runs.
fn rendered(page: &Path) -> Option<String> {
    let out = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-P-cbou", "-ww"])
        .arg(page)
        .env("GROFF_NO_SGR", "1")
        .output();
    match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && std::env::var_os("CI").is_none() => {
            eprintln!("groff is not installed: the rendering check is skipped");
            None
        }
        Err(e) => panic!("cannot run groff ({e}); .ci/run installs it for CI"),
        Ok(out) => {
            assert!(out.status.success(), "{}", stderr(&out));
            assert!(out.stderr.is_empty(), "groff warns: {}", stderr(&out));
            Some(stdout(&out))
        }
    }
}

#[test]
fn man_dir_writes_one_page_per_command_each_rendering_its_examples_intact() {
    let sb = Sandbox::new();
    let dir = sb.tmp.path().join("share/man/man1");
    let out = sb.run(&["man", "--dir", dir.to_str().unwrap()]);
    out.success();
    let expected = expected_pages();
    assert!(expected.contains(&"runctl-version-new.1".to_string()));
    assert_eq!(listing(&dir), expected);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains(&format!("wrote {} man pages", expected.len()))
    );
    for name in &expected {
        let page = std::fs::read_to_string(dir.join(name)).unwrap();
        let title = name.trim_end_matches(".1");
        assert!(
            page.starts_with(&format!(".TH {title} 1 ")),
            "{name}: {page}"
        );
        assert!(
            page.contains("\\fBrunctl\\fR(1)") || title == "runctl",
            "{name}"
        );
    }
    // What `runctl man <command>` prints is the page the folder holds.
    let printed = sb.run(&["man", "version", "new"]);
    printed.success();
    assert_eq!(
        printed.stdout,
        std::fs::read_to_string(dir.join("runctl-version-new.1")).unwrap()
    );
    assert_eq!(
        sb.run(&["man"]).stdout,
        std::fs::read_to_string(dir.join("runctl.1")).unwrap()
    );

    let Some(new) = rendered(&dir.join("runctl-new.1")) else {
        return;
    };
    // Each example line as --help shows it: its own line, hyphens, quotes and `$` as typed.
    let help = sb.run(&["new", "--help"]).stdout;
    let examples: Vec<&str> = help
        .split("Examples:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .collect();
    assert!(
        examples
            .iter()
            .any(|l| l.contains("'python train.py --out \"$RUN_DIR\"'"))
    );
    let lines: Vec<&str> = new.lines().map(str::trim).collect();
    for example in &examples {
        assert!(lines.contains(example), "not intact: {example}\n{new}");
    }
    assert!(new.contains("SEE ALSO\n       runctl(1)"), "{new}");
    let top = rendered(&dir.join("runctl.1")).unwrap();
    assert!(
        top.lines()
            .any(|l| l.trim() == "runctl --root ~/proj plugins --json"),
        "{top}"
    );
    assert!(top.contains("runctl-version-new(1)"), "{top}");
}

#[test]
fn man_of_an_unknown_command_is_a_usage_error() {
    let sb = Sandbox::new();
    for args in [
        &["man", "nope"][..],
        &["man", "version", "nope"],
        &["man", "help"],
    ] {
        let out = sb.run(args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error: runctl has no command"),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
    let out = sb.run(&["man", "new", "--dir", "d"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(!sb.work().join("d").exists());
}

/// `man --dir DIR` that must fail with `code`, an `error:` line naming the problem, nothing on
/// stdout and no page (or temporary file) anywhere under `look_in`.
fn refused(sb: &Sandbox, dir: &std::ffi::OsStr, code: i32, says: &str, look_in: &Path) {
    let out = sb.cmd().arg("man").arg("--dir").arg(dir).run();
    assert_eq!(out.code, Some(code), "{dir:?}: {}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{dir:?}: {}", out.stderr);
    assert!(out.stderr.contains(says), "{dir:?}: {}", out.stderr);
    assert!(out.stdout.is_empty());
    let pages: Vec<PathBuf> = walk_files(look_in)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".1"))
        .collect();
    assert!(pages.is_empty(), "{dir:?} left {pages:?}");
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn every_bad_man_dir_is_refused_with_an_error_line_and_leaves_no_page() {
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::new();
    let work = sb.work();
    let os = |s: &str| std::ffi::OsString::from(s);
    refused(&sb, &os(""), 2, "", &work);
    std::fs::write(work.join("file"), "x").unwrap();
    refused(&sb, &os("file"), 2, "file is not a folder", &work);
    refused(&sb, &os("file/sub"), 1, "cannot create the folder", &work);
    std::os::unix::fs::symlink("file", work.join("to-file")).unwrap();
    refused(&sb, &os("to-file"), 2, "is not a folder", &work);
    std::os::unix::fs::symlink("missing", work.join("dangling")).unwrap();
    refused(
        &sb,
        &os("dangling"),
        1,
        "is a symbolic link to missing, which does not exist",
        &work,
    );
    assert!(!work.join("missing").exists());
    let huge = "d".repeat(300);
    refused(&sb, &os(&huge), 1, "cannot create the folder", &work);
    refused(
        &sb,
        &os(&"d/".repeat(3000)),
        1,
        "cannot create the folder",
        &work,
    );

    // A folder that cannot be written (immutable: tests run as root): no page, no temporary.
    std::fs::create_dir(work.join("locked")).unwrap();
    {
        let _guard = Immutable::set(&work.join("locked"));
        refused(&sb, &os("locked"), 1, "cannot write", &work);
    }
    // A page's name taken by a folder: found before any page is renamed into place.
    std::fs::create_dir_all(work.join("taken/runctl-new.1/inside")).unwrap();
    refused(&sb, &os("taken"), 1, "runctl-new.1: it is a folder", &work);
    assert_eq!(listing(&work.join("taken")), ["runctl-new.1"]);

    // A symlink to a folder is written through; a name that is not UTF-8 is fine.
    std::fs::create_dir(work.join("real")).unwrap();
    std::os::unix::fs::symlink("real", work.join("link")).unwrap();
    sb.run(&["man", "--dir", "link"]).success();
    assert!(
        std::fs::symlink_metadata(work.join("link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(listing(&work.join("real")), expected_pages());
    let odd = std::ffi::OsStr::from_bytes(b"man\xff\xfe");
    let out = sb.cmd().arg("man").arg("--dir").arg(odd).run();
    out.success();
    assert_eq!(listing(&work.join(odd)), expected_pages());
}
