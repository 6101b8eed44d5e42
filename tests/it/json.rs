//! `--json` on the commands that print a summary or metadata (env, record, export, version
//! export and import) over the binary: the shapes of docs/json.md, read back with serde_json,
//! and the combinations refused because the data itself is on stdout.

use crate::common::*;

/// A project with one run over four items, two of them recorded (one ok, one error).
fn run_with_results(sb: &Sandbox) {
    sb.init();
    std::fs::write(sb.work().join("items.csv"), "id,text\n1,a\n2,b\n3,c\n4,d\n").unwrap();
    sb.new_run_over("items.csv");
    sb.cmd()
        .args(["record", "latest"])
        .write_stdin(
            "{\"key\": \"1\", \"ok\": {\"n\": 1}}\n{\"key\": \"2\", \"error\": \"boom\"}\n",
        )
        .run()
        .success();
}

#[test]
fn env_json_is_the_metadata_object_and_the_same_as_format_json() {
    let sb = Sandbox::new();
    sb.init();
    sb.run(&["new", "--model", "Qwen2-7B", "--dataset", "d"])
        .success();
    let out = sb.run(&["env", "latest", "--json"]);
    out.success();
    let env = out.json();
    assert_eq!(env["RUN_NAME"], "qwen2-7b-d-full-run1");
    assert_eq!(env["RUN_NUMBER"], "1");
    assert_eq!(env["SERVED_MODEL_NAME"], "qwen2-7b");
    let dir = env["RUN_DIR"].as_str().unwrap();
    assert!(
        std::path::Path::new(dir).is_absolute() && dir.ends_with("/outputs/qwen2-7b-d-full-run1")
    );
    assert_eq!(env.as_object().unwrap().len(), 8, "{env}");
    assert_eq!(sb.run(&["env", "latest", "--format", "json"]).json(), env);
    // --json is --format json: with another --format it is a usage error.
    let out = sb.run(&["env", "latest", "--json", "--format", "shell"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
}

#[test]
fn record_json_counts_what_it_recorded_and_the_items_after() {
    let sb = Sandbox::new();
    run_with_results(&sb);
    let out = sb
        .cmd()
        .args(["record", "latest", "--json"])
        .write_stdin("{\"key\": \"3\", \"ok\": 3}\n\n{\"key\": \"2\", \"ok\": \"fixed\"}\n{\"key\": \"4\", \"error\": \"x\"}\n")
        .run();
    out.success();
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let json = out.json();
    assert_eq!(json["run"], "m-dataset-full-run1");
    assert!(json["id"].as_str().unwrap().len() > 20);
    assert_eq!(json["recorded"], 3);
    assert_eq!(json["ok"], 2);
    assert_eq!(json["errors"], 1);
    let items = &json["items"];
    assert_eq!(items["total"], 4);
    assert_eq!(items["completed"], 3);
    assert_eq!(items["errors"], 1);
    assert_eq!(items["remaining"], 0);
    // Nothing on stdin: nothing recorded, the counts as they are.
    let out = sb
        .cmd()
        .args(["record", "latest", "--json"])
        .write_stdin("")
        .run();
    out.success();
    assert_eq!(out.json()["recorded"], 0);
    assert_eq!(out.json()["items"]["completed"], 3);
    // A bad line: an error on stderr, nothing on stdout, exit 1.
    let out = sb
        .cmd()
        .args(["record", "latest", "--json"])
        .write_stdin("not json\n")
        .run();
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.starts_with("error: line 1: "), "{}", out.stderr);
}

#[test]
fn export_json_summarises_the_file_it_wrote() {
    let sb = Sandbox::new();
    run_with_results(&sb);
    for format in ["jsonl", "csv"] {
        let file = format!("out.{format}");
        let out = sb.run(&[
            "export", "latest", "--format", format, "-o", &file, "--json",
        ]);
        out.success();
        let json = out.json();
        let written = sb.work().join(&file);
        assert_eq!(json["output"], written.to_str().unwrap());
        assert_eq!(json["format"], format);
        assert_eq!(json["run"], "m-dataset-full-run1");
        assert_eq!(json["items"], 4);
        assert_eq!(json["ok"], 1);
        assert_eq!(json["errors"], 1);
        assert_eq!(json["not_done"], 2);
        let text = std::fs::read_to_string(&written).unwrap();
        let lines = if format == "csv" { 5 } else { 4 };
        assert_eq!(text.lines().count(), lines, "{text}");
    }
    // Into a FIFO: the data goes there, the summary to stdout.
    let fifo = sb.work().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::fs::read_to_string(fifo).unwrap()
    });
    let out = sb.run(&["export", "latest", "-o", "pipe", "--json"]);
    out.success();
    assert_eq!(out.json()["output"], fifo.to_str().unwrap());
    assert_eq!(reader.join().unwrap().lines().count(), 4);
}

#[test]
fn json_summaries_refuse_a_stdout_that_carries_the_data() {
    let sb = Sandbox::new();
    run_with_results(&sb);
    sb.run(&["version", "new", "style_1"]).success();
    let refused: [&[&str]; 6] = [
        &["export", "latest", "--json"],
        &["export", "latest", "-o", "-", "--json"],
        &["export", "latest", "-o", "/dev/stdout", "--json"],
        &["version", "export", "--json"],
        &["version", "export", "-o", "-", "--json"],
        &["version", "export", "-o", "/dev/stdout", "--json"],
    ];
    for args in refused {
        let out = sb.run(args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        assert!(
            out.stderr.starts_with("error: --json prints the"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("hint: give -o FILE"), "{}", out.stderr);
    }
    // Without --json, -o - is stdout itself, for both.
    let out = sb.run(&["export", "latest", "-o", "-"]);
    out.success();
    assert_eq!(out.json_lines().len(), 4);
    let out = sb.run(&["version", "export", "-o", "-"]);
    out.success();
    assert_eq!(out.json()["versions"][0]["name"], "V1");
    assert!(!sb.work().join("-").exists());
}

#[test]
fn version_export_json_summarises_and_refuses_what_export_refuses() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    sb.run(&["version", "new", "style_1"]).success();
    sb.run(&["version", "new", "style_1"]).success();
    sb.run(&["version", "new", "style_2"]).success();
    let out = sb.run(&["version", "export", "-o", "v.json", "--json"]);
    out.success();
    let json = out.json();
    assert_eq!(json["output"], sb.work().join("v.json").to_str().unwrap());
    assert_eq!(json["versions"], 3);
    assert_eq!(json["family"], serde_json::Value::Null);
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.work().join("v.json")).unwrap()).unwrap();
    assert_eq!(file["versions"].as_array().unwrap().len(), 3);
    let out = sb.run(&[
        "version", "export", "--family", "style_1", "-o", "v1.json", "--json",
    ]);
    out.success();
    assert_eq!(out.json()["versions"], 2);
    assert_eq!(out.json()["family"], "style_1");
    // A folder, runctl's own DB, a missing folder: refused with an error line, nothing left
    // behind (no temporary file).
    std::fs::create_dir(sb.work().join("dir")).unwrap();
    let db_before = sb.whole_db();
    for (target, code) in [
        ("dir", 2),
        (".runctl/state.db", 2),
        ("no/such/dir/v.json", 1),
    ] {
        let out = sb.run(&["version", "export", "-o", target, "--json"]);
        assert_eq!(out.code, Some(code), "{target}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error: "),
            "{target}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(sb.whole_db(), db_before);
    let mut names: Vec<String> = std::fs::read_dir(sb.work())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [".runctl", "dir", "runctl.toml", "v.json", "v1.json"]
    );
    assert_eq!(std::fs::read_dir(sb.work().join("dir")).unwrap().count(), 0);
}

#[test]
fn version_import_json_lists_what_it_imported_merged_and_skipped() {
    let sb = Sandbox::new();
    sb.init();
    let file = r#"{"versions": [
      {"id": "style_1_vV8", "name": "style_1_vV8.safetensors", "status": "completed",
       "loraUrl": "s3://b/loras/style_1_vV8.safetensors", "description": "Synced from S3"},
      {"id": "job-8", "name": "V8", "status": "pending"},
      {"id": "job-3", "name": "V3", "family": "style_2", "status": "running"},
      {"name": "V4", "status": "pending"}
    ]}"#;
    std::fs::write(sb.work().join("versions.json"), file).unwrap();
    let out = sb.run(&["version", "import", "versions.json", "--dry-run", "--json"]);
    out.success();
    let plan = out.json();
    assert_eq!(plan["dry_run"], true);
    assert_eq!(
        plan["merged"],
        serde_json::json!([{"waiting": 2, "synced": 1}])
    );
    assert_eq!(plan["imported"].as_array().unwrap().len(), 2, "{plan}");
    assert_eq!(plan["skipped"][0]["entry"], 4);
    assert_eq!(plan["skipped"][0]["label"], "V4");
    assert_eq!(
        sb.run(&["version", "list", "--json"]).json(),
        serde_json::json!([])
    );

    let out = sb.run(&["version", "import", "versions.json", "--yes", "--json"]);
    out.success();
    let done = out.json();
    assert_eq!(done["dry_run"], false);
    assert_eq!(
        done["file"],
        sb.work().join("versions.json").to_str().unwrap()
    );
    assert_eq!(
        done["imported"],
        serde_json::json!([
            {"family": "style_1", "name": "V8", "status": "completed"},
            {"family": "style_2", "name": "V3", "status": "running"}
        ])
    );
    assert_eq!(done["kept_apart"], serde_json::json!([]));
    // Again: each is already there.
    let again = sb
        .run(&["version", "import", "versions.json", "--yes", "--json"])
        .json();
    assert_eq!(again["imported"], serde_json::json!([]));
    let reasons: Vec<&str> = again["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 3, "{again}");
    assert_eq!(
        reasons,
        [
            "no family (pass --family) or no name",
            "style_1 V8 is already in the registry",
            "style_2 V3 is already in the registry"
        ]
    );
}
