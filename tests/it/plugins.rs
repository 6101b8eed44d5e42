//! Plugin dispatch (args, stdin/stdout, exit code, environment), `runctl plugins` with its
//! warnings, did-you-mean, and a closed stdout pipe.

use std::io::Write;
use std::process::Stdio;

use crate::common::*;

const ECHO_PLUGIN: &str = r#"#!/bin/sh
printf 'args:'; for a in "$@"; do printf ' [%s]' "$a"; done; echo
echo "stdin:$(cat)"
echo "RUNCTL=$RUNCTL"
echo "RUNCTL_VERSION=$RUNCTL_VERSION"
echo "RUNCTL_ROOT=${RUNCTL_ROOT-unset}"
echo "RUNCTL_DB=${RUNCTL_DB-unset}"
echo "to stderr" >&2
exit 7
"#;

#[test]
fn dispatch_passes_args_stdio_exit_code_and_env() {
    let sb = Sandbox::new();
    sb.init();
    sb.plugin("echo", ECHO_PLUGIN);
    let nested = sb.work().join("deep/er");
    std::fs::create_dir_all(&nested).unwrap();
    let out = sb
        .cmd_in(&nested)
        .args(["echo", "a b", "--flag", "-x", "--help"])
        .write_stdin("from stdin")
        .run();
    assert_eq!(out.status.code(), Some(7));
    let text = stdout(&out);
    assert!(
        text.contains("args: [a b] [--flag] [-x] [--help]\n"),
        "{text}"
    );
    assert!(text.contains("stdin:from stdin\n"));
    assert!(text.contains(&format!("RUNCTL={RUNCTL}\n")), "{text}");
    assert!(text.contains(&format!("RUNCTL_VERSION={}\n", env!("CARGO_PKG_VERSION"))));
    assert!(
        text.contains(&format!("RUNCTL_ROOT={}\n", sb.work().display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("RUNCTL_DB={}\n", sb.db().display())),
        "{text}"
    );
    assert_eq!(stderr(&out), "to stderr\n");
}

#[test]
fn outside_a_project_root_and_db_are_unset() {
    let sb = Sandbox::new();
    sb.plugin("echo", ECHO_PLUGIN);
    let out = sb.cmd().arg("echo").run();
    assert_eq!(out.status.code(), Some(7));
    assert!(
        stdout(&out).contains("RUNCTL_ROOT=unset\nRUNCTL_DB=unset\n"),
        "{}",
        stdout(&out)
    );
    assert!(
        !sb.work().join(".runctl").exists(),
        "dispatch creates nothing"
    );
}

#[test]
fn the_example_plugin_runs_and_calls_back() {
    let sb = Sandbox::new();
    sb.init();
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/examples/runctl-hello");
    std::fs::copy(&example, sb.bin().join("runctl-hello")).unwrap();
    let out = sb.cmd().args(["hello", "team"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "hello, team, from runctl {}\nproject: {}\n",
            env!("CARGO_PKG_VERSION"),
            sb.work().display()
        )
    );
}

#[test]
fn builtins_are_never_shadowed() {
    let sb = Sandbox::new();
    sb.plugin("init", "#!/bin/sh\necho plugin-init\n");
    let out = sb.cmd().args(["init", "--json"]).run();
    assert_eq!(out.status.code(), Some(0));
    assert!(!stdout(&out).contains("plugin-init"));
    assert!(sb.work().join("runctl.toml").is_file());
}

#[test]
fn plugins_lists_paths_and_warns() {
    let sb = Sandbox::new();
    let second = sb.tmp.path().join("bin2");
    std::fs::create_dir_all(&second).unwrap();
    let first = sb.plugin("dup", "#!/bin/sh\necho first\n");
    write_exec(&second.join("runctl-dup"), "#!/bin/sh\necho second\n");
    sb.plugin("init", "#!/bin/sh\n");
    sb.plugin("ok", "#!/bin/sh\n");
    std::fs::write(sb.bin().join("runctl-noexec"), "#!/bin/sh\n").unwrap();
    let path = format!("{}:{}:/usr/bin:/bin", sb.bin().display(), second.display());

    let out = sb.cmd().env("PATH", &path).arg("plugins").run();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("NAME  PATH\n"), "{text}");
    assert!(
        text.contains(&format!("dup   {}\n", first.display())),
        "{text}"
    );
    assert!(text.contains("ok    "), "{text}");
    assert!(
        !text.contains("noexec") && !text.contains("runctl-init"),
        "{text}"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "warning: {}/runctl-dup: shadowed by {}, which comes earlier on PATH",
            second.display(),
            first.display()
        )),
        "{err}"
    );
    assert!(err.contains("runctl-noexec: not executable"), "{err}");
    assert!(
        err.contains("runctl-init: never runs: 'init' is a built-in command"),
        "{err}"
    );

    let out = sb
        .cmd()
        .env("PATH", &path)
        .args(["plugins", "--json"])
        .run();
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let plugins = json["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 5);
    let active: Vec<&str> = plugins
        .iter()
        .filter(|p| p["active"] == true)
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(active, vec!["dup", "ok"]);

    // The shadowed copy never runs; the first one does.
    let out = sb.cmd().env("PATH", &path).arg("dup").run();
    assert_eq!(stdout(&out), "first\n");
    // A non-executable file is not run, and is not found.
    let out = sb.cmd().env("PATH", &path).arg("noexec").run();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn plugins_are_not_run_from_the_working_directory() {
    let sb = Sandbox::new();
    write_exec(&sb.work().join("runctl-local"), "#!/bin/sh\necho ran\n");
    // An empty PATH entry is not read as ".".
    let out = sb
        .cmd()
        .env("PATH", format!(":{}:/usr/bin:/bin", sb.bin().display()))
        .arg("local")
        .run();
    assert_eq!(out.status.code(), Some(2));
    assert!(!stdout(&out).contains("ran"));
    // An explicit "." is honoured.
    let out = sb.cmd().env("PATH", ".:/usr/bin:/bin").arg("local").run();
    assert_eq!(stdout(&out), "ran\n");
}

#[test]
fn unknown_commands_get_did_you_mean_over_builtins_and_plugins() {
    let sb = Sandbox::new();
    sb.plugin("s3sync", "#!/bin/sh\n");
    let out = sb.cmd().arg("migrat").run();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error: no such command: 'migrat'"), "{err}");
    assert!(err.contains("hint: did you mean 'migrate'?"), "{err}");

    let out = sb.cmd().arg("s3snyc").run();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean 's3sync'?"),
        "{}",
        stderr(&out)
    );

    let out = sb.cmd().arg("qqqqqqqq").run();
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("did you mean"));
    assert_no_panic(&out);
}

#[test]
fn a_plugin_that_cannot_start_is_a_clear_error() {
    let sb = Sandbox::new();
    sb.plugin("broken", "#!/nonexistent/interpreter\n");
    let out = sb.cmd().arg("broken").run();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: cannot run plugin"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn a_closed_stdout_pipe_exits_quietly() {
    let sb = Sandbox::new();
    for i in 0..50 {
        sb.plugin(&format!("p{i:02}"), "#!/bin/sh\n");
    }
    for args in [
        &["plugins"][..],
        &["plugins", "--json"],
        &["completions", "bash"],
        &["man"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // the reader is gone before runctl writes a byte
        let out = sb.cmd().args(args).stdout(Stdio::from(writer)).run();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn stdin_streams_through_to_the_plugin() {
    let sb = Sandbox::new();
    sb.plugin("wc", "#!/bin/sh\nwc -l\n");
    let mut child = sb.cmd().arg("wc").stdin(Stdio::piped()).spawn();
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..10_000 {
        writeln!(stdin, "line {i}").unwrap();
    }
    drop(stdin);
    let out = child.wait();
    assert_eq!(String::from_utf8_lossy(&out.raw.stdout).trim(), "10000");
}
