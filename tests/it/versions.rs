//! Model versions over the binary: the seed's scenario end to end, sync idempotence, import of
//! the seed's "before" file, concurrent allocation, and listings with unusable lines.

use crate::common::*;

fn run(sb: &Sandbox, args: &[&str]) -> Run {
    let out = sb.cmd().args(args).run();
    assert_no_panic(&out);
    out
}

fn ok(sb: &Sandbox, args: &[&str]) -> String {
    let out = run(sb, args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn sync(sb: &Sandbox, listing: &str) -> String {
    let out = sb
        .cmd()
        .args(["version", "sync", "--listing", "-"])
        .write_stdin(listing.to_string())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

fn versions(sb: &Sandbox) -> serde_json::Value {
    serde_json::from_str(&ok(sb, &["version", "list", "--json"])).unwrap()
}

const LISTING: &str = "https://bucket.s3.amazonaws.com/loras/style_1_vV8.safetensors\n\
https://bucket.s3.amazonaws.com/loras/style_1_vV9.safetensors\n\
https://bucket.s3.amazonaws.com/loras/style_82_vV5.safetensors\n";

#[test]
fn the_seed_scenario_gives_exactly_one_completed_v9() {
    let sb = Sandbox::new();
    sb.init();
    // V1..V8 exist; V8 is already synced.
    for _ in 0..7 {
        ok(&sb, &["version", "new", "style_1"]);
    }
    ok(&sb, &["version", "new", "style_1", "--job-id", "job-v8"]);
    ok(
        &sb,
        &[
            "version",
            "complete",
            "--job-id",
            "job-v8",
            "--url",
            "https://bucket.s3.amazonaws.com/loras/style_1_vV8.safetensors",
        ],
    );
    // Start V9 (a training job), the webhook completes it, then the sync runs.
    assert_eq!(
        ok(
            &sb,
            &[
                "version",
                "new",
                "style_1",
                "--job-id",
                "ec487842-e2",
                "--param",
                "lr=0.0001",
                "--param",
                "steps=3000",
                "--description",
                "more steps, higher learning rate"
            ]
        ),
        "V9\n"
    );
    ok(&sb, &["version", "start", "--job-id", "ec487842-e2"]);
    ok(
        &sb,
        &[
            "version",
            "complete",
            "--job-id",
            "ec487842-e2",
            "--url",
            "https://bucket.s3.amazonaws.com/loras/style_1_vV9.safetensors",
        ],
    );
    let first = sync(&sb, LISTING);
    assert!(first.contains("created style_82 V5"), "{first}");
    let all = versions(&sb);
    let v9: Vec<&serde_json::Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["family"] == "style_1" && v["name"] == "V9")
        .collect();
    assert_eq!(v9.len(), 1, "exactly one V9");
    let v9 = v9[0];
    assert_eq!(v9["status"], "completed");
    assert_eq!(v9["job_id"], "ec487842-e2");
    assert_eq!(
        v9["artifact_url"],
        "https://bucket.s3.amazonaws.com/loras/style_1_vV9.safetensors"
    );
    assert_eq!(
        v9["parameters"],
        serde_json::json!({"lr": 0.0001, "steps": 3000})
    );
    assert_eq!(v9["description"], "more steps, higher learning rate");
    assert_eq!(
        all.as_array().unwrap().len(),
        10,
        "V1..V9 and style_82 V5, no duplicate"
    );

    // The second run changes nothing and says so.
    let second = sync(&sb, LISTING);
    assert_eq!(second, "nothing to change: 3 already in sync, 0 skipped\n");
    assert_eq!(versions(&sb), all);
}

#[test]
fn a_pending_version_gets_its_artifact_from_the_sync() {
    // The webhook never came: the first pass matches the pending V9 by name.
    let sb = Sandbox::new();
    sb.init();
    for _ in 0..8 {
        ok(&sb, &["version", "new", "style_1"]);
    }
    ok(
        &sb,
        &[
            "version", "new", "style_1", "--job-id", "job-9", "--param", "rank=16",
        ],
    );
    let out = sync(
        &sb,
        "{\"key\":\"loras/style_1_vV9.safetensors\",\"etag\":\"\\\"abc\\\"\",\"size\":1234,\"last_modified\":\"2026-11-20T10:00:00Z\"}\n",
    );
    assert!(
        out.contains("updated style_1 V9 <- loras/style_1_vV9.safetensors (pending by name)"),
        "{out}"
    );
    let v9: serde_json::Value =
        serde_json::from_str(&ok(&sb, &["version", "show", "style_1", "V9", "--json"])).unwrap();
    assert_eq!(v9["status"], "completed");
    assert_eq!(v9["artifact_url"], "loras/style_1_vV9.safetensors");
    assert_eq!(v9["etag"], "\"abc\"");
    assert_eq!(v9["size"], 1234);
    assert_eq!(v9["parameters"]["rank"], 16);
    assert!(v9["last_synced"].is_string());
    // A changed etag is an update; the same one is not.
    let same = sync(
        &sb,
        "{\"key\":\"loras/style_1_vV9.safetensors\",\"etag\":\"\\\"abc\\\"\",\"size\":1234}\n",
    );
    assert!(same.starts_with("nothing to change"), "{same}");
    let changed = sync(
        &sb,
        "{\"key\":\"loras/style_1_vV9.safetensors\",\"etag\":\"\\\"def\\\"\",\"size\":1300}\n",
    );
    assert!(changed.contains("updated style_1 V9"), "{changed}");
}

#[test]
fn unusable_listing_lines_are_reported_and_skipped() {
    let sb = Sandbox::new();
    sb.init();
    let listing = "loras/README.md\n\nloras/style_1_vV1.ckpt\n{\"etag\":\"x\"}\n{broken\nloras/style_2_vV3.safetensors\n";
    let out = sb
        .cmd()
        .args(["version", "sync", "--listing", "-", "--json"])
        .write_stdin(listing)
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let skipped: Vec<&str> = json["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["location"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        vec![
            "line 4",
            "line 5",
            "loras/README.md",
            "loras/style_1_vV1.ckpt"
        ]
    );
    assert_eq!(json["created"].as_array().unwrap().len(), 1);
    assert_eq!(json["created"][0]["name"], "V3");
    // --dry-run plans the same and writes nothing; --family limits it.
    let sb = Sandbox::new();
    sb.init();
    let out = sb
        .cmd()
        .args(["version", "sync", "--listing", "-", "--dry-run"])
        .write_stdin(listing)
        .run();
    assert!(
        stdout(&out).contains("would create style_2 V3"),
        "{}",
        stdout(&out)
    );
    assert_eq!(versions(&sb), serde_json::json!([]));
    let out = sb
        .cmd()
        .args(["version", "sync", "--listing", "-", "--family", "style_9"])
        .write_stdin(listing)
        .run();
    assert!(stdout(&out).contains(
        "skipped loras/style_2_vV3.safetensors: family style_2 is not the one asked for"
    ));
    let out = run(&sb, &["version", "sync", "--listing", "missing.txt"]);
    assert_eq!(out.status.code(), Some(4));
}

const BEFORE: &str = r#"{
  "versions": [
    {
      "id": "style_1_vV8",
      "name": "style_1_vV8.safetensors",
      "status": "completed",
      "loraUrl": "https://bucket.s3.amazonaws.com/loras/style_1_vV8.safetensors",
      "description": "Synced from S3"
    },
    {
      "id": "ec487842-b853-4ca1-ba91-76bba6a59006-e2",
      "name": "V8",
      "status": "pending",
      "timestamp": "2025-10-13T19:36:17.724Z",
      "parameters": { "learning_rate": 0.0002, "steps": 3000 },
      "description": "more steps, higher learning rate"
    }
  ]
}"#;

#[test]
fn the_seeds_before_file_imports_to_its_after_shape() {
    the_seeds_before_file_imports_to_its_after_shape_on(&Sandbox::new);
}

#[test]
fn the_seeds_before_file_imports_to_its_after_shape_on_postgres() {
    if crate::pg::server().is_some() {
        the_seeds_before_file_imports_to_its_after_shape_on(&|| Sandbox::on_postgres().unwrap());
    }
}

fn the_seeds_before_file_imports_to_its_after_shape_on(make: &dyn Fn() -> Sandbox) {
    let sb = make();
    sb.init();
    std::fs::write(sb.work().join("training_versions.json"), BEFORE).unwrap();
    // No terminal and no --yes: refused with a hint, nothing imported.
    let out = run(&sb, &["version", "import", "training_versions.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hint: pass --yes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(versions(&sb), serde_json::json!([]));
    // --dry-run lists the pair.
    let plan = ok(
        &sb,
        &["version", "import", "training_versions.json", "--dry-run"],
    );
    assert!(
        plan.contains("would merge: entry ec487842-b853-4ca1-ba91-76bba6a59006-e2 (V8, pending)"),
        "{plan}"
    );
    assert!(plan.ends_with("would import 1, skipped 0\n"), "{plan}");
    assert_eq!(versions(&sb), serde_json::json!([]));

    ok(
        &sb,
        &["version", "import", "training_versions.json", "--yes"],
    );
    let after: serde_json::Value = serde_json::from_str(&ok(&sb, &["version", "export"])).unwrap();
    let entries = after["versions"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{after}");
    let v = &entries[0];
    assert_eq!(v["id"], "ec487842-b853-4ca1-ba91-76bba6a59006-e2");
    assert_eq!(v["name"], "V8");
    assert_eq!(v["status"], "completed");
    assert_eq!(
        v["loraUrl"],
        "https://bucket.s3.amazonaws.com/loras/style_1_vV8.safetensors"
    );
    assert_eq!(
        v["parameters"],
        serde_json::json!({ "learning_rate": 0.0002, "steps": 3000 })
    );
    assert_eq!(v["family"], "style_1");
    assert!(v["lastSynced"].is_string());
    // Importing again adds nothing.
    let again = ok(
        &sb,
        &["version", "import", "training_versions.json", "--yes"],
    );
    assert!(again.ends_with("imported 0, skipped 1\n"), "{again}");
    // And the export reads back in: a round trip through another project.
    let sb2 = make();
    sb2.init();
    std::fs::write(
        sb2.work().join("exported.json"),
        serde_json::to_string(&after).unwrap(),
    )
    .unwrap();
    ok(&sb2, &["version", "import", "exported.json"]);
    let back: serde_json::Value = serde_json::from_str(&ok(&sb2, &["version", "export"])).unwrap();
    assert_eq!(back["versions"][0]["id"], v["id"]);
    assert_eq!(back["versions"][0]["loraUrl"], v["loraUrl"]);
}

#[test]
fn thirty_two_concurrent_news_get_thirty_two_names() {
    thirty_two_concurrent_news_get_thirty_two_names_on(Sandbox::new());
}

#[test]
fn thirty_two_concurrent_news_get_thirty_two_names_on_postgres() {
    if let Some(sb) = Sandbox::on_postgres() {
        thirty_two_concurrent_news_get_thirty_two_names_on(sb);
    }
}

fn thirty_two_concurrent_news_get_thirty_two_names_on(sb: Sandbox) {
    sb.init();
    let children: Vec<_> = (0..32)
        .map(|i| sb.spawn(&["version", "new", "style_1", "--job-id", &format!("job-{i}")]))
        .collect();
    let mut names: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            stdout(&out).trim().to_string()
        })
        .collect();
    names.sort_by_key(|n| n[1..].parse::<u32>().unwrap());
    let expected: Vec<String> = (1..=32).map(|n| format!("V{n}")).collect();
    assert_eq!(names, expected);
}

#[test]
fn names_and_job_ids_are_unique_and_webhooks_need_a_known_job() {
    names_and_job_ids_are_unique_and_webhooks_need_a_known_job_on(Sandbox::new());
}

#[test]
fn names_and_job_ids_are_unique_and_webhooks_need_a_known_job_on_postgres() {
    if let Some(sb) = Sandbox::on_postgres() {
        names_and_job_ids_are_unique_and_webhooks_need_a_known_job_on(sb);
    }
}

fn names_and_job_ids_are_unique_and_webhooks_need_a_known_job_on(sb: Sandbox) {
    sb.init();
    ok(
        &sb,
        &[
            "version", "new", "style_1", "--name", "V8", "--job-id", "j1",
        ],
    );
    let out = run(&sb, &["version", "new", "style_1", "--name", "V8"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("family style_1 already has a version V8"));
    let out = run(&sb, &["version", "new", "style_2", "--job-id", "j1"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("job id j1 already belongs to style_1 V8"));
    assert_eq!(
        ok(&sb, &["version", "new", "style_1"]),
        "V9\n",
        "the next after the largest"
    );
    let out = run(
        &sb,
        &["version", "complete", "--job-id", "nope", "--url", "u"],
    );
    assert_eq!(out.status.code(), Some(4));
    ok(
        &sb,
        &[
            "version",
            "fail",
            "--job-id",
            "j1",
            "--error",
            "CUDA out of memory",
        ],
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(&sb, &["version", "show", "--job-id", "j1", "--json"])).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["error"].as_str()),
        (Some("failed"), Some("CUDA out of memory"))
    );
    assert_eq!(v["artifact_name"], "style_1_vV8.safetensors");
    // A version name the template could not parse back is refused.
    let out = run(&sb, &["version", "new", "style_1", "--name", "x_vy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("could not be parsed back"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_template_that_cannot_parse_back_is_refused_at_load() {
    let sb = Sandbox::new();
    sb.init();
    let toml = sb.work().join("runctl.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace(
            "artifact_template = \"{family}_v{version}.safetensors\"",
            "artifact_template = \"{family}{version}.pt\"",
        ),
    )
    .unwrap();
    let out = run(&sb, &["version", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("artifact template '{family}{version}.pt' cannot be used: {family} and {version} need literal text between them"), "{err}");
    assert!(
        err.contains("hint: fix versions.artifact_template"),
        "{err}"
    );
    // Another template works end to end.
    std::fs::write(
        &toml,
        text.replace(
            "artifact_template = \"{family}_v{version}.safetensors\"",
            "artifact_template = \"lora-{version}--{family}.bin\"",
        ),
    )
    .unwrap();
    let out = sync(&sb, "s3://b/lora-V3--style_1.bin\n");
    assert!(out.contains("created style_1 V3"), "{out}");
}

#[test]
fn import_reports_entries_it_cannot_place_and_refuses_a_broken_file() {
    let sb = Sandbox::new();
    sb.init();
    // An entry with no name has no family to go in: skipped and named, the others imported.
    std::fs::write(
        sb.work().join("partial.json"),
        r#"{"versions": [
            {"id": "job-1", "status": "completed"},
            {"id": "job-2", "name": "style_1_vV1", "status": "completed"}
        ]}"#,
    )
    .unwrap();
    let report = ok(&sb, &["version", "import", "partial.json", "--yes"]);
    assert!(
        report.contains("skipped job-1: no family (pass --family) or no name"),
        "{report}"
    );
    assert!(report.ends_with("imported 1, skipped 1\n"), "{report}");
    // A broken file: the place of the fault, a hint, exit 1, and the registry unchanged.
    std::fs::write(
        sb.work().join("broken.json"),
        "{\"versions\": [\n  {\"id\": \n",
    )
    .unwrap();
    let out = run(&sb, &["version", "import", "broken.json", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("broken.json:3:"), "{err}");
    assert!(err.contains("not a versions file"), "{err}");
    assert!(err.contains("hint: expected"), "{err}");
    let list: serde_json::Value =
        serde_json::from_str(&ok(&sb, &["version", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}

#[test]
fn the_counter_goes_on_past_nine_digits() {
    let sb = Sandbox::new();
    sb.init();
    ok(&sb, &["version", "new", "x", "--name", "V999999999"]);
    assert_eq!(ok(&sb, &["version", "new", "x"]), "V1000000000\n");
    // It used to stick here: V1000000000 got no number, so it was handed out again.
    assert_eq!(ok(&sb, &["version", "new", "x"]), "V1000000001\n");
    // A row an older runctl stored without its number is counted.
    sb.tables().exec(
        "UPDATE versions SET number = NULL WHERE name = 'V1000000001'",
        &[],
    );
    assert_eq!(ok(&sb, &["version", "new", "x"]), "V1000000002\n");
    // Numbers SQLite cannot hold are names like any other; the counter ignores them.
    ok(
        &sb,
        &["version", "new", "x", "--name", "V99999999999999999999"],
    );
    ok(&sb, &["version", "new", "x", "--name", "V0"]);
    assert_eq!(ok(&sb, &["version", "new", "x"]), "V1000000003\n");
    // The last number there is: a conflict that says what to do, not a wrapped counter.
    ok(
        &sb,
        &["version", "new", "y", "--name", "V9223372036854775807"],
    );
    let out = run(&sb, &["version", "new", "y"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "error: family y has reached V9223372036854775807: there is no next V<n>\nhint: name the version with --name\n"
    );
}

/// `version sync --listing -` with `listing` on stdin, whatever its exit code.
fn sync_out(sb: &Sandbox, listing: &[u8], extra: &[&str]) -> Run {
    let out = sb
        .cmd()
        .args(["version", "sync", "--listing", "-"])
        .args(extra)
        .write_stdin(listing.to_vec())
        .run();
    assert_no_panic(&out);
    out
}

fn set_url_base(sb: &Sandbox, base: &str) {
    let toml = sb.work().join("runctl.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(text.contains("url_base = \"\""), "{text}");
    std::fs::write(
        &toml,
        text.replace("url_base = \"\"", &format!("url_base = \"{base}\"")),
    )
    .unwrap();
}

#[test]
fn import_refuses_what_version_new_refuses_and_imports_nothing() {
    let sb = Sandbox::new();
    sb.init();
    ok(&sb, &["version", "new", "style_1", "--job-id", "keep"]);
    let before = versions(&sb);
    let db_before = sb.whole_db();
    std::fs::write(
        sb.work().join("bad.json"),
        r#"{"versions": [
            {"id": "fine", "name": "V2", "family": "style_1", "status": "completed"},
            {"id": "j1", "name": "V3", "family": "style_1", "status": "weird"},
            {"id": "j2", "name": "V1", "family": "../f", "status": "pending"},
            {"id": "j3", "name": "x/../../y", "family": "f", "status": "pending"},
            {"id": "j4", "name": "V1", "family": "st\u001b[31myle", "status": "pending"},
            {"id": "j5", "name": "V1", "family": "f", "size": -1},
            {"id": "j6", "name": "V2", "family": "f", "timestamp": "yesterday"}
        ]}"#,
    )
    .unwrap();
    for extra in [&["--yes"][..], &["--dry-run"][..]] {
        let out = run(
            &sb,
            &[&["version", "import", "bad.json"][..], extra].concat(),
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with("error: ")
                && err.contains(
                    "bad.json: 6 of its entries cannot be imported, so nothing was imported"
                ),
            "{err}"
        );
        for line in [
            "caused by: entry 2 (id j1): status 'weird' is not a status; use one of pending, running, completed, failed",
            "caused by: entry 3 (id j2): family '../f' cannot contain '/'",
            "caused by: entry 4 (id j3): name 'x/../../y' cannot contain '/'",
            "caused by: entry 5 (id j4): family 'st\\u{1b}[31myle' contains the control character U+001B",
            "caused by: entry 6 (id j5): size '-1' cannot be negative",
            "caused by: entry 7 (id j6): timestamp 'yesterday' is not an RFC 3339 time",
        ] {
            assert!(err.contains(line), "{line}\n{err}");
        }
        assert!(err.contains("\nhint: "), "{err}");
        assert!(!err.contains('\u{1b}'), "a raw ESC reached the terminal");
        assert_eq!(versions(&sb), before, "half imported");
    }
    assert_eq!(sb.whole_db(), db_before);
    // --family is checked as a family.
    let out = run(&sb, &["version", "import", "bad.json", "--family", "../f"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn control_characters_never_enter_and_never_reach_the_terminal() {
    let sb = Sandbox::new();
    sb.init();
    // Through sync: the file is skipped, and the report shows the ESC escaped.
    let out = sync_out(
        &sb,
        b"st\x1b[31myle_vV1.safetensors\nstyle_1_vV1.safetensors\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(!report.contains('\u{1b}'), "{report:?}");
    assert!(
        report.contains("skipped st\\u{1b}[31myle_vV1.safetensors: key 'st\\u{1b}[31myle_vV1.safetensors' contains the control character U+001B"),
        "{report}"
    );
    let all = versions(&sb);
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    assert_eq!(all[0]["family"], "style_1");
    // Through new and the webhook: usage errors.
    for args in [
        &["version", "new", "a\u{1b}b"][..],
        &["version", "new", "ok", "--name", "V1\u{7}"],
        &["version", "new", "ok", "--job-id", "j\u{1b}"],
        &["version", "new", "ok", "--description", "x\u{1b}[2J"],
        &["version", "new", "../ok"],
        &["version", "new", ".."],
        &["version", "new", ""],
        &[
            "version",
            "complete",
            "--job-id",
            "style_1_vV1",
            "--url",
            "s3://b/\u{1b}x",
        ],
        &[
            "version",
            "fail",
            "--job-id",
            "style_1_vV1",
            "--error",
            "\u{9b}31m",
        ],
    ] {
        let out = run(&sb, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains('\u{1b}'),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(versions(&sb), all);
    // A row an older runctl let in is shown escaped.
    sb.tables().exec(
        "UPDATE versions SET family = 'ev\u{1b}[31mil', artifact_url = 'u\u{1b}]0;x\u{7}'",
        &[],
    );
    for args in [
        &["version", "list"][..],
        &["version", "show", "ev\u{1b}[31mil", "V1"],
    ] {
        let shown = ok(&sb, args);
        assert!(!shown.contains('\u{1b}'), "{args:?}: {shown:?}");
        assert!(shown.contains("ev\\u{1b}[31mil"), "{shown}");
    }
}

#[test]
fn hostile_listings_and_files_are_refused_cleanly() {
    let sb = Sandbox::new();
    sb.init();
    // A 10 MB line, invalid UTF-8, a duplicate JSON key, a NUL, and a good line after them.
    let mut listing = vec![b'x'; 10 * 1024 * 1024];
    listing.extend_from_slice(b"_vV1.safetensors\n\xff\xfe_vV1.safetensors\n");
    listing.extend_from_slice(b"{\"key\":\"a_vV1.safetensors\",\"key\":\"b_vV1.safetensors\"}\n");
    listing.extend_from_slice(b"n\0ul_vV1.safetensors\nstyle_1_vV1.safetensors\n");
    let out = sync_out(&sb, &listing, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.len() < 4096, "the 10 MB line came back");
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let reasons: Vec<String> = json["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s["location"].as_str().unwrap(),
                s["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        reasons[0].starts_with("line 1: longer than 263168 bytes"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("line 2: not valid UTF-8"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("duplicate field"), "{reasons:?}");
    assert!(reasons[3].contains("U+0000"), "{reasons:?}");
    assert_eq!(json["created"][0]["name"], "V1");
    assert_eq!(json["created"][0]["family"], "style_1");
    // A 10 MB family in a file: refused in a short error.
    let family = "f".repeat(10 * 1024 * 1024);
    std::fs::write(
        sb.work().join("huge.json"),
        format!(r#"{{"versions": [{{"name": "V1", "family": "{family}"}}]}}"#),
    )
    .unwrap();
    let out = run(&sb, &["version", "import", "huge.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.len() < 2048,
        "{} bytes of error",
        out.stderr.len()
    );
    assert!(
        stderr(&out).contains("bytes long; the limit is 255"),
        "{}",
        stderr(&out)
    );
    // Not UTF-8, not JSON, and no versions at all: exit 1 with a reason, nothing imported.
    for (name, bytes) in [
        ("bin.json", &b"{\"versions\": [\xff]}"[..]),
        ("empty.json", b""),
        ("object.json", b"{}"),
    ] {
        std::fs::write(sb.work().join(name), bytes).unwrap();
        let out = run(&sb, &["version", "import", name]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error: "),
            "{name}: {}",
            stderr(&out)
        );
    }
    assert_eq!(versions(&sb).as_array().unwrap().len(), 1);
    // A byte-order mark from a Windows editor is no part of the first name, in a listing or a
    // file; anywhere else a zero-width character is refused.
    let out = sync_out(
        &sb,
        b"\xef\xbb\xbfbom_vV1.safetensors\nz\xe2\x80\x8bw_vV1.safetensors\n",
        &[],
    );
    assert!(stdout(&out).contains("created bom V1"), "{}", stdout(&out));
    assert!(stdout(&out).contains("U+200B"), "{}", stdout(&out));
    std::fs::write(
        sb.work().join("bom.json"),
        "\u{feff}{\"versions\": [{\"name\": \"V2\", \"family\": \"bom\"}]}",
    )
    .unwrap();
    ok(&sb, &["version", "import", "bom.json"]);
    // A file without end is refused after a bound, not read into memory whole.
    let out = run(&sb, &["version", "import", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("too large for a versions file"),
        "{}",
        stderr(&out)
    );
    // One name at 50,000 places: linear, and one short warning.
    let many: String = (0..50_000)
        .map(|i| format!("p{i}/style_9_vV1.safetensors\n"))
        .collect();
    let started = std::time::Instant::now();
    let out = sync_out(&sb, many.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    assert_eq!(
        stderr(&out),
        "warning: style_9_vV1.safetensors is listed at 50000 places; sync uses p0/style_9_vV1.safetensors and skips p1/style_9_vV1.safetensors, p2/style_9_vV1.safetensors, p3/style_9_vV1.safetensors, 49996 more\n"
    );
    // An unknown status filter is a usage error, not an empty list.
    assert_eq!(
        run(&sb, &["version", "list", "--status", "weird"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn one_file_under_two_prefixes_keeps_one_url_and_warns() {
    let sb = Sandbox::new();
    sb.init();
    let listing = b"a/style_1_vV1.safetensors\nb/style_1_vV1.safetensors\n";
    let first = sync_out(&sb, listing, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("created style_1 V1 <- a/style_1_vV1.safetensors"),
        "{}",
        stdout(&first)
    );
    let warning = "warning: style_1_vV1.safetensors is listed at 2 places; sync uses a/style_1_vV1.safetensors and skips b/style_1_vV1.safetensors\n";
    assert_eq!(stderr(&first), warning);
    let after = versions(&sb);
    // Every later sync changes nothing, in either order, and warns once.
    for listing in [
        &listing[..],
        b"b/style_1_vV1.safetensors\na/style_1_vV1.safetensors\n",
    ] {
        let again = sync_out(&sb, listing, &[]);
        assert_eq!(again.status.code(), Some(0));
        assert!(
            stdout(&again).ends_with("nothing to change: 1 already in sync, 1 skipped\n"),
            "{}",
            stdout(&again)
        );
        assert!(
            stdout(&again).contains("skipped b/style_1_vV1.safetensors: style_1_vV1.safetensors is also listed at a/style_1_vV1.safetensors, which sync uses"),
            "{}",
            stdout(&again)
        );
        assert_eq!(
            stderr(&again).matches("warning:").count(),
            1,
            "{}",
            stderr(&again)
        );
        assert_eq!(versions(&sb), after);
    }
    let json = sync_out(&sb, listing, &["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.raw.stdout).unwrap();
    assert_eq!(
        json["ambiguous"],
        serde_json::json!([{
            "file": "style_1_vV1.safetensors",
            "chosen": "a/style_1_vV1.safetensors",
            "others": ["b/style_1_vV1.safetensors"]
        }])
    );
}

#[test]
fn a_bare_key_never_replaces_a_url_that_ends_with_it() {
    let sb = Sandbox::new();
    sb.init();
    // The README tour.
    ok(&sb, &["version", "new", "style_1", "--job-id", "job-42"]);
    ok(
        &sb,
        &[
            "version",
            "complete",
            "--job-id",
            "job-42",
            "--url",
            "s3://loras/style_1_vV1.safetensors",
        ],
    );
    // An imported https URL.
    std::fs::write(
        sb.work().join("v8.json"),
        r#"{"versions": [{"id": "job-8", "name": "V8", "family": "style_1", "status": "completed",
            "loraUrl": "https://bucket.s3.amazonaws.com/loras/style_1_vV8.safetensors"}]}"#,
    )
    .unwrap();
    ok(&sb, &["version", "import", "v8.json"]);
    let before = versions(&sb);
    // What `aws s3 ls s3://loras/ | awk '{print $4}'` prints.
    assert_eq!(
        sync(&sb, "style_1_vV1.safetensors\nstyle_1_vV8.safetensors\n"),
        "nothing to change: 2 already in sync, 0 skipped\n"
    );
    assert_eq!(versions(&sb), before);
    // A bare key under another prefix does not replace a URL either, without a URL base.
    let out = sync(&sb, "old/style_1_vV1.safetensors\n");
    assert!(
        out.contains("skipped old/style_1_vV1.safetensors: a bare key does not replace the URL s3://loras/style_1_vV1.safetensors of style_1 V1; set versions.url_base to make keys URLs"),
        "{out}"
    );
    assert_eq!(versions(&sb), before);

    // With versions.url_base, bare keys become URLs.
    set_url_base(&sb, "s3://loras/");
    ok(&sb, &["version", "new", "style_1", "--name", "V9"]);
    let out = sync(
        &sb,
        "style_1_vV1.safetensors\nstyle_1_vV9.safetensors\nstyle_1_vV10.safetensors\n",
    );
    assert!(
        out.contains("updated style_1 V9 <- s3://loras/style_1_vV9.safetensors (pending by name)"),
        "{out}"
    );
    assert!(
        out.contains("created style_1 V10 <- s3://loras/style_1_vV10.safetensors"),
        "{out}"
    );
    assert!(
        out.ends_with("updated 1, already in sync 1, created 1, skipped 0\n"),
        "{out}"
    );
    let v1: serde_json::Value =
        serde_json::from_str(&ok(&sb, &["version", "show", "style_1", "V1", "--json"])).unwrap();
    assert_eq!(v1["artifact_url"], "s3://loras/style_1_vV1.safetensors");
    // A url_base that is not a URL is refused at load, with the fix.
    set_url_base_again(&sb, "s3://loras/", "loras/");
    let out = sync_out(&sb, b"style_1_vV1.safetensors\n", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error: versions.url_base 'loras/' is not a URL: it needs a scheme such as s3:// or https://")
            && stderr(&out).contains("hint: fix versions.url_base in"),
        "{}",
        stderr(&out)
    );
}

fn set_url_base_again(sb: &Sandbox, from: &str, to: &str) {
    let toml = sb.work().join("runctl.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace(
            &format!("url_base = \"{from}\""),
            &format!("url_base = \"{to}\""),
        ),
    )
    .unwrap();
}

#[test]
fn an_empty_listing_is_refused_unless_allowed() {
    let sb = Sandbox::new();
    sb.init();
    ok(&sb, &["version", "new", "style_1"]);
    let before = versions(&sb);
    // `aws s3 ls ... | awk ...` without credentials feeds nothing at all.
    for empty in [&b""[..], b"\n", b"  \n\n\t\n"] {
        let out = sync_out(&sb, empty, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "error: the listing is empty: there is nothing to sync\n\
             hint: if a command wrote the listing (`aws s3 ls ...`), check that it succeeded\n\
             hint: pass --allow-empty when an empty bucket is expected\n"
        );
        assert_eq!(stdout(&out), "");
    }
    let out = sync_out(&sb, b"", &["--allow-empty"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "nothing to change: 0 already in sync, 0 skipped\n"
    );
    assert_eq!(versions(&sb), before);
    // A listing of unusable lines is not empty: it is reported.
    let out = sync_out(&sb, b"README.md\n", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn export_then_import_keeps_etag_size_and_the_ids_of_synced_entries() {
    let sb = Sandbox::new();
    sb.init();
    ok(&sb, &["version", "new", "style_1", "--job-id", "job-1"]);
    let listing = "{\"key\":\"loras/style_1_vV1.safetensors\",\"url\":\"s3://b/loras/style_1_vV1.safetensors\",\"etag\":\"\\\"e1\\\"\",\"size\":11,\"last_modified\":\"2026-11-20T10:00:00Z\"}\n\
{\"key\":\"loras/style_1_vV2.safetensors\",\"url\":\"s3://b/loras/style_1_vV2.safetensors\",\"etag\":\"\\\"e2\\\"\",\"size\":22}\n";
    sync(&sb, listing);
    ok(&sb, &["version", "new", "style_1", "--job-id", "job-3"]);
    ok(
        &sb,
        &["version", "fail", "--job-id", "job-3", "--error", "OOM"],
    );
    let exported = ok(&sb, &["version", "export"]);
    let file: serde_json::Value = serde_json::from_str(&exported).unwrap();
    let entries = file["versions"].as_array().unwrap();
    // Every entry has an id, as in the seed's file: a synced one the artifact's stem.
    let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["job-1", "style_1_vV2", "job-3"]);
    assert_eq!(entries[1]["description"], "synced from storage");
    assert_eq!(
        (entries[0]["etag"].as_str(), entries[0]["size"].as_i64()),
        (Some("\"e1\""), Some(11))
    );
    assert_eq!(entries[0]["lastModified"], "2026-11-20T10:00:00Z");
    assert_eq!(entries[2]["error"], "OOM");

    let sb2 = Sandbox::new();
    sb2.init();
    std::fs::write(sb2.work().join("v.json"), &exported).unwrap();
    ok(&sb2, &["version", "import", "v.json"]);
    assert_eq!(
        ok(&sb2, &["version", "export"]),
        exported,
        "a round trip changes nothing"
    );
    // And the next sync has nothing to do.
    assert_eq!(
        sync(&sb2, listing),
        "nothing to change: 2 already in sync, 0 skipped\n"
    );
    // The id of a synced entry is its job id: the webhook and `show --job-id` find it.
    let v2: serde_json::Value = serde_json::from_str(&ok(
        &sb2,
        &["version", "show", "--job-id", "style_1_vV2", "--json"],
    ))
    .unwrap();
    assert_eq!(v2["name"], "V2");
}

#[test]
fn a_status_written_before_statuses_were_checked_is_kept_and_shown() {
    // An import before every way in checked the status could store any text: such a row is
    // listed, shown and exported as it is, and a sync still runs over the registry.
    let sb = Sandbox::new();
    sb.init();
    ok(&sb, &["version", "new", "style_1", "--job-id", "j1"]);
    ok(&sb, &["version", "new", "style_1"]);
    sb.tables().exec(
        "UPDATE versions SET status = 'done' WHERE job_id = 'j1'",
        &[],
    );
    assert_eq!(versions(&sb)[0]["status"], "done");
    let shown = ok(&sb, &["version", "show", "style_1", "V1"]);
    assert!(shown.contains("status         done"), "{shown}");
    let exported = ok(&sb, &["version", "export"]);
    assert!(exported.contains("\"status\": \"done\""), "{exported}");
    sync(&sb, "loras/style_82_vV5.safetensors\n");
    assert_eq!(versions(&sb)[1]["status"], "pending");
}

#[test]
fn a_listed_file_whose_version_exists_with_another_artifact_is_skipped_not_a_crash() {
    let sb = Sandbox::new();
    sb.init();
    sb.run(&["version", "new", "style_1", "--job-id", "job-42"])
        .success();
    sb.run(&[
        "version",
        "complete",
        "--job-id",
        "job-42",
        "--url",
        "s3://loras/renamed/model.safetensors",
    ])
    .success();
    std::fs::write(
        sb.work().join("l.txt"),
        "s3://loras/style_1_vV1.safetensors\ns3://loras/style_1_vV2.safetensors\n",
    )
    .unwrap();
    let out = sb
        .cmd()
        .args(["version", "sync", "--listing", "l.txt"])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains(
            "style_1 V1 already exists with its artifact at s3://loras/renamed/model.safetensors"
        ),
        "{text}"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&sb.cmd().args(["version", "list", "--json"]).run())).unwrap();
    let urls: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["artifact_url"].as_str().unwrap_or(""))
        .collect();
    assert!(
        urls.contains(&"s3://loras/renamed/model.safetensors"),
        "{listed}"
    );
    assert!(
        urls.contains(&"s3://loras/style_1_vV2.safetensors"),
        "{listed}"
    );
    assert_eq!(urls.len(), 2, "{listed}");
}

#[test]
fn two_writes_to_one_version_in_a_sync_keep_the_listing_order() {
    // V1 of style_1 is updated twice in one sync (by name, then by its job id), between
    // writes to style_2 and style_0 that sort around it; the later of the two is what it keeps.
    let sb = Sandbox::new();
    sb.init();
    ok(
        &sb,
        &["version", "new", "style_1", "--job-id", "style_1_vV9"],
    );
    ok(&sb, &["version", "new", "style_0"]);
    let out = sync(
        &sb,
        "s3://b/style_1_vV1.safetensors\ns3://b/style_2_vV1.safetensors\n\
         s3://b/style_1_vV9.safetensors\ns3://b/style_0_vV1.safetensors\n",
    );
    assert!(
        out.contains("updated style_1 V1 <- s3://b/style_1_vV9.safetensors (synced by id)"),
        "{out}"
    );
    let v = versions(&sb);
    let url = |family: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["family"] == family)
            .map(|r| r["artifact_url"].clone())
    };
    assert_eq!(url("style_1").unwrap(), "s3://b/style_1_vV9.safetensors");
    assert_eq!(url("style_0").unwrap(), "s3://b/style_0_vV1.safetensors");
    assert_eq!(url("style_2").unwrap(), "s3://b/style_2_vV1.safetensors");
    // Nothing left to change.
    let again = sync(
        &sb,
        "s3://b/style_1_vV9.safetensors\ns3://b/style_2_vV1.safetensors\ns3://b/style_0_vV1.safetensors\n",
    );
    assert!(again.starts_with("nothing to change"), "{again}");
}

#[test]
fn of_two_versions_created_with_one_file_name_a_later_sync_finds_the_first_listed() {
    // A JSON entry's key names the version, its URL the file: two entries whose URLs share a
    // file name create two versions (V2 listed first, then V1). The next sync of that file
    // name updates the one created first, whatever the order of their names.
    let sb = Sandbox::new();
    sb.init();
    let first = sync(
        &sb,
        "{\"key\":\"style_1_vV2.safetensors\",\"url\":\"s3://b/style_1_vV9.safetensors\"}\n\
         {\"key\":\"style_1_vV1.safetensors\",\"url\":\"s3://c/style_1_vV9.safetensors\"}\n",
    );
    assert!(first.contains("created style_1 V2"), "{first}");
    assert!(first.contains("created style_1 V1"), "{first}");
    let out = sync(&sb, "s3://z/style_1_vV9.safetensors\n");
    assert!(
        out.contains("updated style_1 V2 <- s3://z/style_1_vV9.safetensors (synced by url)"),
        "{out}"
    );
}
