//! Project discovery, init, settings, help, completions, man page and exit codes.

use crate::common::*;

#[test]
fn help_has_examples_and_exit_codes() {
    let sb = Sandbox::new();
    let out = sb.cmd().arg("--help").run();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("root_help", stdout(&out));
    for cmd in ["init", "migrate", "plugins", "completions", "man"] {
        let out = sb.cmd().args([cmd, "--help"]).run();
        assert_eq!(out.status.code(), Some(0), "{cmd} --help");
        assert!(
            stdout(&out).contains("Examples:"),
            "{cmd} --help has no example"
        );
    }
}

#[test]
fn version_prints_the_package_version() {
    let sb = Sandbox::new();
    let out = sb.cmd().arg("--version").run();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!("runctl {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    let sb = Sandbox::new();
    let out = sb.cmd().args(["init", "--bogus"]).run();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("error: unexpected argument '--bogus'"));
    let out = sb.cmd().run();
    assert_eq!(
        out.status.code(),
        Some(2),
        "no command prints help and exits 2"
    );
    assert!(stderr(&out).contains("Usage: runctl"));
}

#[test]
fn non_utf8_command_name_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::new();
    let out = sb.cmd().arg(std::ffi::OsStr::from_bytes(b"caf\xff")).run();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("UTF-8"), "{}", stderr(&out));
    assert_no_panic(&out);
}

#[test]
fn init_creates_settings_and_state_and_is_idempotent() {
    let sb = Sandbox::on_sqlite();
    let out = sb.cmd().arg("init").run();
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("initialized runctl project"));
    let toml = std::fs::read_to_string(sb.work().join("runctl.toml")).unwrap();
    for key in [
        "run_counter_scope",
        "max_path",
        "use_legacy",
        "link_mode",
        "artifact_template",
    ] {
        assert!(toml.contains(key), "runctl.toml lacks {key}");
    }
    assert_eq!(
        std::fs::read_to_string(sb.work().join(".runctl/.gitignore"))
            .unwrap()
            .lines()
            .last(),
        Some("*")
    );
    assert!(sb.db().is_file());

    let db_before = std::fs::read(sb.db()).unwrap();
    let out = sb.cmd().args(["init", "--json"]).run();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["already_initialized"], true);
    assert_eq!(json["created"], serde_json::json!([]));
    let out = sb.cmd().arg("init").run();
    assert!(stderr(&out).contains("already a runctl project; nothing changed"));
    assert_eq!(
        std::fs::read_to_string(sb.work().join("runctl.toml")).unwrap(),
        toml
    );
    assert_eq!(std::fs::read(sb.db()).unwrap(), db_before);
}

#[test]
fn project_is_found_from_a_nested_folder() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    let nested = sb.work().join("a/b/c");
    std::fs::create_dir_all(&nested).unwrap();
    let out = sb.cmd_in(&nested).args(["migrate", "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["db"], sb.db().to_str().unwrap());
    assert!(!nested.join(".runctl").exists());
}

#[test]
fn a_state_folder_alone_marks_a_project() {
    let sb = Sandbox::on_sqlite();
    std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
    let nested = sb.work().join("sub");
    std::fs::create_dir_all(&nested).unwrap();
    let out = sb.cmd_in(&nested).args(["migrate", "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        sb.db().is_file(),
        "a new DB is created and migrated silently"
    );
    assert_eq!(stderr(&out), "");
}

#[test]
fn root_flag_and_env_override_discovery() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    let elsewhere = sb.tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = sb
        .cmd_in(&elsewhere)
        .args(["--root", sb.work().to_str().unwrap(), "migrate", "--json"])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["db"], sb.db().to_str().unwrap());

    let out = sb
        .cmd_in(&elsewhere)
        .env("RUNCTL_ROOT", sb.work())
        .args(["migrate", "--json"])
        .run();
    assert_eq!(out.status.code(), Some(0));

    // Outside any project, a read command says so and exits 4.
    let out = sb.run_in(&elsewhere, &["migrate"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("no runctl project"));
    assert!(stderr(&out).contains("hint: run 'runctl init'"));
}

#[test]
fn missing_root_is_not_found() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["--root", "/nonexistent/runctl", "migrate"])
        .run();
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).starts_with("error: project root /nonexistent/runctl does not exist"));
    assert_no_panic(&out);
}

#[test]
fn unknown_settings_are_warnings_naming_key_and_file() {
    let sb = Sandbox::new();
    sb.init();
    let toml = sb.work().join("runctl.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace("max_path = 240", "max_path = 240\nmax_pth = 3"),
    )
    .unwrap();
    let out = sb.cmd().arg("migrate").run();
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("warning: unknown setting 'naming.max_pth'"),
        "{err}"
    );
    assert!(err.contains(toml.to_str().unwrap()), "{err}");
}

#[test]
fn malformed_settings_name_line_and_column() {
    let sb = Sandbox::new();
    sb.init();
    let toml = sb.work().join("runctl.toml");
    std::fs::write(&toml, "[naming]\nmax_path = = 3\n").unwrap();
    let out = sb.cmd().arg("migrate").run();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:2:12:", toml.display())), "{err}");
    assert_no_panic(&out);

    std::fs::write(&toml, b"[naming]\nmax_path = \"\xff\"\n").unwrap();
    let out = sb.cmd().arg("migrate").run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not valid UTF-8"), "{}", stderr(&out));

    std::fs::write(&toml, "[naming]\nmax_path = \"long\"\n").unwrap();
    let out = sb.cmd().arg("migrate").run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(":2:12:"), "{}", stderr(&out));
}

#[test]
fn bash_completion_script_loads_in_bash() {
    let sb = Sandbox::new();
    let out = sb.cmd().args(["completions", "bash"]).run();
    assert_eq!(out.status.code(), Some(0));
    let script = sb.tmp.path().join("runctl.bash");
    std::fs::write(&script, &out.raw.stdout).unwrap();
    // Load it in a real bash and ask what `runctl mi<TAB>` completes to.
    let probe = format!(
        "source {}; COMP_WORDS=(runctl mi); COMP_CWORD=1; COMP_LINE='runctl mi'; COMP_POINT=9; \
         _runctl runctl mi runctl; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &probe])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "migrate",
        "{:?}",
        out
    );
}

#[test]
fn zsh_and_fish_completions_name_every_command() {
    let sb = Sandbox::new();
    for (shell, marker) in [("zsh", "#compdef runctl"), ("fish", "complete -c runctl")] {
        let out = sb.cmd().args(["completions", shell]).run();
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        assert!(text.contains(marker), "{shell}");
        for cmd in ["init", "migrate", "plugins", "completions"] {
            assert!(text.contains(cmd), "{shell} completion lacks {cmd}");
        }
    }
}

#[test]
fn man_page_is_roff_with_every_command() {
    let sb = Sandbox::new();
    let out = sb.cmd().arg("man").run();
    assert_eq!(out.status.code(), Some(0));
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH runctl"),
        "{page}"
    );
    assert!(page.contains(".TH runctl 1"));
    for cmd in ["init", "migrate", "plugins", "completions"] {
        assert!(page.contains(cmd), "man page lacks {cmd}");
    }
}

#[test]
fn settings_warnings_are_printed_once_per_command() {
    let sb = Sandbox::new();
    sb.init();
    let toml = sb.work().join("runctl.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{text}\n[extra]\nkey = 1\n")).unwrap();
    std::fs::create_dir_all(sb.work().join("m/M:x")).unwrap();
    for args in [
        &["path", "check", "a/b"][..],
        &["link", "m/M:x"],
        &["hash", "x"],
        &["name"],
    ] {
        let out = sb.cmd().args(args).run();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).matches("unknown setting 'extra'").count(),
            1,
            "{args:?}: {}",
            stderr(&out)
        );
    }
}
