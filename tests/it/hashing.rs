//! `runctl hash`, `link`, `resolve` and `path check` over the binary, and compute_hash checked
//! against Python's hashlib on thousands of random part lists.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::strategy::ValueTree;

use crate::common::*;

/// The recipe of docs/hashing.md in Python, reading JSON part lists, printing one hash a line.
const PYTHON_RECIPE: &str = r#"
import hashlib, json, sys
def compute_hash(*args, length=8):
    for arg in args:
        if 'hash=' in str(arg):
            return str(arg)
    combined = '_'.join(str(arg).lstrip(':') for arg in args)
    return ':hash=' + hashlib.md5(combined.encode()).hexdigest()[:length]
length = int(sys.argv[1])
for parts in json.load(sys.stdin):
    sys.stdout.write(compute_hash(*parts, length=length) + '\n')
"#;

fn python_hashes(lists: &[Vec<String>], length: usize) -> String {
    let mut child = Command::new("python3")
        .args(["-c", PYTHON_RECIPE, &length.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test");
    let input = serde_json::to_vec(lists).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = collect(child);
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn runctl_batch(sb: &Sandbox, lists: &[Vec<String>], length: usize) -> String {
    let input: String = lists.iter().map(|parts| parts.join("\t") + "\n").collect();
    let out = sb
        .cmd()
        .args(["hash", "--batch", "--length", &length.to_string()])
        .write_stdin(input)
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

/// A part as pipelines write them, and as fuzzers would: any Unicode but the line and part
/// separators of --batch, leading colons, ready-made hashes, empty strings.
fn part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^\t\n\r]{0,40}",
        ":{0,3}[a-z0-9=+._-]{0,30}",
        "[a-z]{0,3}hash=[0-9a-f]{8}",
        Just(String::new()),
        "[\u{80}-\u{10FFFF}]{1,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn batch_hashes_equal_pythons(
        lists in prop::collection::vec(prop::collection::vec(part(), 1..6), 1500),
        length in prop_oneof![Just(8usize), 1usize..40],
    ) {
        let sb = Sandbox::new();
        prop_assert_eq!(runctl_batch(&sb, &lists, length), python_hashes(&lists, length));
    }
}

#[test]
fn argument_hashes_equal_pythons_even_with_tabs_and_newlines() {
    let sb = Sandbox::new();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(
        prop_oneof!["\\PC{0,20}", "[\t\n\r :]{0,4}[a-z]{0,4}", "::x"],
        1..5,
    );
    let mut lists = Vec::new();
    for _ in 0..60 {
        lists.push(strategy.new_tree(&mut runner).unwrap().current());
    }
    let expected = python_hashes(&lists, 8);
    for (parts, want) in lists.iter().zip(expected.lines()) {
        let out = sb.cmd().arg("hash").arg("--").args(parts).run();
        assert_eq!(out.status.code(), Some(0), "{parts:?}: {}", stderr(&out));
        assert_eq!(stdout(&out).trim_end_matches('\n'), want, "{parts:?}");
    }
}

#[test]
fn hash_json_and_idempotence() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["hash", "--json", ":tsteps=20+dt=2", "42", "imagenette"])
        .run();
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["identifier"], "tsteps=20+dt=2_42_imagenette");
    assert_eq!(
        json["hash"],
        format!(":hash={}", json["hex"].as_str().unwrap())
    );
    assert_eq!(json["already_hashed"], false);
    let again = sb
        .cmd()
        .args(["hash", json["hash"].as_str().unwrap()])
        .run();
    assert_eq!(stdout(&again).trim(), json["hash"]);
    // Nothing was written anywhere by the read-only command.
    assert!(!sb.work().join(".runctl").exists());
}

#[test]
fn batch_rejects_invalid_utf8_with_the_line_number() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["hash", "--batch"])
        .write_stdin(b"ok\nbad \xff line\n".to_vec())
        .run();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out).lines().count(),
        1,
        "the first line's hash was printed"
    );
    assert!(
        stderr(&out).contains("stdin line 2 is not valid UTF-8"),
        "{}",
        stderr(&out)
    );
    assert_no_panic(&out);
}

#[test]
fn hash_record_detects_collisions() {
    hash_record_detects_collisions_on(Sandbox::new());
}

#[test]
fn hash_record_detects_collisions_on_postgres() {
    if let Some(sb) = Sandbox::on_postgres() {
        hash_record_detects_collisions_on(sb);
    }
}

fn hash_record_detects_collisions_on(sb: Sandbox) {
    sb.init();
    let (a, b) = colliding_pair(&sb, 1);
    let out = sb
        .cmd()
        .args(["hash", "--record", "--length", "1", &a])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = sb
        .cmd()
        .args(["hash", "--record", "--length", "1", &a])
        .run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the same identifier again is no collision"
    );
    let out = sb
        .cmd()
        .args(["hash", "--record", "--length", "1", &b])
        .run();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("'{a}'")) && err.contains(&format!("'{b}'")),
        "{err}"
    );
    assert!(err.contains("hint: use --length 12"), "{err}");
}

/// Two identifiers whose `length`-digit hashes are equal, found with runctl itself.
fn colliding_pair(sb: &Sandbox, length: usize) -> (String, String) {
    let names: Vec<String> = (0..200).map(|i| format!("ident{i}")).collect();
    let lists: Vec<Vec<String>> = names.iter().map(|n| vec![n.clone()]).collect();
    let hashes = runctl_batch(sb, &lists, length);
    let hashes: Vec<&str> = hashes.lines().collect();
    for i in 0..names.len() {
        for j in i + 1..names.len() {
            if hashes[i] == hashes[j] {
                return (names[i].clone(), names[j].clone());
            }
        }
    }
    panic!("no collision among 200 one-digit hashes");
}

/// The project as another machine sees it: its files, no registry (`state.db` removed, or
/// no PostgreSQL database named).
fn without_registry(mut sb: Sandbox) -> Sandbox {
    match sb.db_url.take() {
        Some(_) => sb,
        None => {
            std::fs::remove_file(sb.db()).unwrap();
            sb
        }
    }
}

fn long_folder(sb: &Sandbox, name: &str) -> std::path::PathBuf {
    let dir = sb.work().join("models").join(name);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("trained.pt"), b"weights").unwrap();
    std::fs::write(dir.join("sub/config.json"), b"{}").unwrap();
    dir
}

fn identifier_200() -> String {
    format!("tsteps=20+dt=2+{}_42_imagenette", "tau=5+".repeat(28))
}

#[test]
fn link_makes_an_idempotent_relative_symlink_and_a_hash_file() {
    let sb = Sandbox::new();
    sb.init();
    let name = format!("DyRCNNx8:{}", identifier_200());
    let dir = long_folder(&sb, &name);
    let expected = sb.cmd().args(["hash", &identifier_200()]).run();
    let hash = stdout(&expected).trim().to_string();
    let hex = hash.trim_start_matches(":hash=").to_string();

    let out = sb
        .cmd()
        .args(["link", "--json", &format!("models/{name}")])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let alias = sb.work().join("models").join(format!("DyRCNNx8{hash}"));
    assert_eq!(json["alias"], alias.to_str().unwrap());
    assert_eq!(json["mode"], "symlink");
    assert_eq!(json["created"], true);
    assert_eq!(
        std::fs::read_link(&alias).unwrap(),
        Path::new(&name),
        "relative link"
    );
    assert_eq!(std::fs::read(alias.join("trained.pt")).unwrap(), b"weights");
    assert_eq!(
        std::fs::read_to_string(dir.join(format!("{hex}.hash"))).unwrap(),
        format!("{}\n", identifier_200())
    );

    let out = sb
        .cmd()
        .args(["link", "--json", &format!("models/{name}")])
        .run();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["created"], false);
    let entries = std::fs::read_dir(sb.work().join("models")).unwrap().count();
    assert_eq!(entries, 2, "the folder and one alias, nothing more");
}

#[test]
fn link_modes_each_give_a_folder_that_reads_the_same() {
    for mode in ["symlink", "hardlink", "copy"] {
        let sb = Sandbox::new();
        sb.init();
        let toml = sb.work().join("runctl.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        std::fs::write(
            &toml,
            text.replace("link_mode = \"auto\"", &format!("link_mode = \"{mode}\"")),
        )
        .unwrap();
        long_folder(&sb, "M:abc");
        let out = sb.cmd().args(["link", "--json", "models/M:abc"]).run();
        assert_eq!(out.status.code(), Some(0), "{mode}: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
        assert_eq!(json["mode"], mode);
        let alias = Path::new(json["alias"].as_str().unwrap());
        assert_eq!(
            std::fs::read(alias.join("trained.pt")).unwrap(),
            b"weights",
            "{mode}"
        );
        assert_eq!(
            std::fs::read(alias.join("sub/config.json")).unwrap(),
            b"{}",
            "{mode}"
        );
        let meta = std::fs::symlink_metadata(alias).unwrap();
        assert_eq!(meta.file_type().is_symlink(), mode == "symlink", "{mode}");
        if mode == "hardlink" {
            use std::os::unix::fs::MetadataExt;
            let a = std::fs::metadata(alias.join("trained.pt")).unwrap().ino();
            let b = std::fs::metadata(sb.work().join("models/M:abc/trained.pt"))
                .unwrap()
                .ino();
            assert_eq!(a, b, "hard links share the inode");
        }
        // Idempotent in every mode.
        let again = sb.cmd().args(["link", "--json", "models/M:abc"]).run();
        assert_eq!(again.status.code(), Some(0), "{mode}: {}", stderr(&again));
        let json: serde_json::Value = serde_json::from_slice(&again.raw.stdout).unwrap();
        assert_eq!(json["created"], false, "{mode}");
        assert_eq!(json["mode"], mode, "{mode}");
        // And it resolves back to the real folder.
        let out = sb
            .cmd()
            .args(["resolve", "--json", alias.to_str().unwrap()])
            .run();
        let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
        assert_eq!(json["matches"][0]["identifier"], "abc", "{mode}");
        assert_eq!(
            json["matches"][0]["folder"],
            sb.work().join("models/M:abc").to_str().unwrap(),
            "{mode}"
        );
    }
}

#[test]
fn link_collisions_exit_3_naming_both_identifiers() {
    link_collisions_exit_3_naming_both_identifiers_on(Sandbox::new());
}

#[test]
fn link_collisions_exit_3_naming_both_identifiers_on_postgres() {
    if let Some(sb) = Sandbox::on_postgres() {
        link_collisions_exit_3_naming_both_identifiers_on(sb);
    }
}

fn link_collisions_exit_3_naming_both_identifiers_on(sb: Sandbox) {
    sb.init();
    let (a, b) = colliding_pair(&sb, 2);
    long_folder(&sb, &format!("M:{a}"));
    long_folder(&sb, &format!("M:{b}"));
    let out = sb
        .cmd()
        .args(["link", "--length", "2", &format!("models/M:{a}")])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = sb
        .cmd()
        .args(["link", "--length", "2", &format!("models/M:{b}")])
        .run();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("hash collision"), "{err}");
    assert!(
        err.contains(&format!("'{a}'")) && err.contains(&format!("'{b}'")),
        "{err}"
    );
    assert!(err.contains("hint: use --length 12"), "{err}");
    // With a longer hash both get their own alias.
    let out = sb
        .cmd()
        .args(["link", "--length", "12", &format!("models/M:{b}")])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn an_existing_alias_leading_elsewhere_is_a_conflict() {
    let sb = Sandbox::new();
    sb.init();
    long_folder(&sb, "M:abc");
    long_folder(&sb, "other");
    let out = sb.cmd().args(["hash", "abc"]).run();
    let alias = sb
        .work()
        .join("models")
        .join(format!("M{}", stdout(&out).trim()));
    std::os::unix::fs::symlink("other", &alias).unwrap();
    let out = sb.cmd().args(["link", "models/M:abc"]).run();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("already exists and leads to"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_link(&alias).unwrap(),
        Path::new("other"),
        "left as it was"
    );
}

#[test]
fn link_outside_a_project_creates_state_here_and_says_so() {
    let sb = Sandbox::on_sqlite();
    long_folder(&sb, "M:abc");
    let out = sb.cmd().args(["link", "models/M:abc"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("note: created"), "{}", stderr(&out));
    assert!(sb.db().is_file());
}

#[test]
fn link_errors_are_clear() {
    let sb = Sandbox::new();
    sb.init();
    let out = sb.cmd().args(["link", "models/missing"]).run();
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("does not exist"));
    std::fs::write(sb.work().join("file"), b"x").unwrap();
    let out = sb.cmd().args(["link", "file"]).run();
    assert_eq!(out.status.code(), Some(2));
    long_folder(&sb, "M:abc");
    let out = sb
        .cmd()
        .args(["link", "--prefix", "Q", "models/M:abc"])
        .run();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not start with the prefix 'Q'"));
    let out = sb
        .cmd()
        .args(["link", "--prefix", "M:a", "--json", "models/M:abc"])
        .run();
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["identifier"], "bc");
    let hash = stdout(&sb.cmd().args(["hash", "bc"]).run())
        .trim()
        .to_string();
    assert_eq!(
        json["alias"],
        sb.work()
            .join(format!("models/M:a{hash}"))
            .to_str()
            .unwrap()
    );
}

#[test]
fn resolve_works_both_ways() {
    resolve_works_both_ways_on(Sandbox::new());
}

#[test]
fn resolve_works_both_ways_on_postgres() {
    if let Some(sb) = Sandbox::on_postgres() {
        resolve_works_both_ways_on(sb);
    }
}

fn resolve_works_both_ways_on(sb: Sandbox) {
    sb.init();
    long_folder(&sb, "M:the_full_identifier");
    let out = sb
        .cmd()
        .args(["link", "models/M:the_full_identifier"])
        .run();
    let alias = stdout(&out).trim().to_string();
    let hash = alias.rsplit_once("M").unwrap().1.to_string();
    let hex = hash.trim_start_matches(":hash=");
    let folder = sb.work().join("models/M:the_full_identifier");

    for query in [
        hex.to_string(),
        hash.clone(),
        alias.clone(),
        format!("hash={hex}"),
    ] {
        let out = sb.cmd().args(["resolve", &query]).run();
        assert_eq!(out.status.code(), Some(0), "{query}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!(
                "identifier: the_full_identifier\nhash:       {hash}\nfolder:     {}\nalias:      {alias}\n",
                folder.display()
            ),
            "{query}"
        );
    }
    // From the real folder to its alias.
    let out = sb
        .cmd()
        .args(["resolve", "--json", "models/M:the_full_identifier"])
        .run();
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["matches"][0]["aliases"][0], alias);
    // Without the registry (another machine), the .hash file still resolves the alias.
    let sb = without_registry(sb);
    let out = sb.cmd().args(["resolve", "--json", &alias]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["matches"][0]["identifier"], "the_full_identifier");
    assert_eq!(json["matches"][0]["algo"], serde_json::Value::Null);

    let out = sb.cmd().args(["resolve", "deadbeef"]).run();
    assert_eq!(out.status.code(), Some(4));
    let out = sb.cmd().args(["resolve", "not a hash"]).run();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn path_check_reports_figures_and_exits_1_when_over() {
    let sb = Sandbox::new();
    let long = format!("M:{}", "p".repeat(300));
    let path = format!("models/{long}/trained.pt");
    let out = sb
        .cmd()
        .args(["path", "check", "--json", &path, "short/ok"])
        .run();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let first = &json[0];
    let checked = format!("{}/{path}", sb.work().display());
    assert_eq!(first["checked"], checked);
    assert_eq!(first["ok"], false);
    assert_eq!(first["chars"], checked.chars().count());
    assert_eq!(first["max_path"], 240);
    assert_eq!(first["long_components"][0]["bytes"], 302);
    let hash = stdout(&sb.cmd().args(["hash", &"p".repeat(300)]).run())
        .trim()
        .to_string();
    assert_eq!(first["long_components"][0]["proposed"], format!("M{hash}"));
    assert_eq!(
        first["proposed"],
        format!("{}/models/M{hash}/trained.pt", sb.work().display())
    );
    assert_eq!(json[1]["ok"], true);
    assert!(stderr(&out).contains("error: 1 of 2 path(s) over the limits"));

    // From stdin, and within the limits: exit 0.
    let out = sb
        .cmd()
        .args(["path", "check"])
        .write_stdin("a/b\nc/d\n")
        .run();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).lines().count(), 2);
    assert!(stdout(&out).starts_with("ok    a/b ("));

    // A multi-byte component: 100 'é' are 200 bytes (fine); 130 are 260 (over).
    let out = sb
        .cmd()
        .args(["path", "check", "--json", &"é".repeat(130)])
        .run();
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json[0]["long_components"][0]["bytes"], 260);
}

#[test]
fn path_check_proposes_the_alias_link_makes_for_a_path_over_max_path() {
    let sb = Sandbox::new();
    sb.init();
    let args =
        "tsteps=20+lossrt=4+energyloss=0.1+lr=0.0005+bs=32+optim=adamw+sched=cosine+warmup=500";
    let model = format!("DyRCNNx8:{args}+{args}+noise=gaussian+sigma=0.25_42_imagenette");
    std::fs::create_dir_all(sb.work().join("models").join(&model)).unwrap();
    let path = format!("models/{model}/trained.pt");
    let full = sb.work().join(&path);
    assert!(full.to_string_lossy().len() > 240, "{}", full.display());
    let out = sb.cmd().args(["path", "check", "--json", &path]).run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let proposed = json[0]["proposed"].as_str().unwrap().to_string();
    assert!(json[0]["proposed_chars"].as_u64().unwrap() <= 240, "{json}");
    assert_eq!(json[0]["shortened"][0]["component"], model.as_str());
    let err = stderr(&out);
    assert!(
        err.contains("'runctl link DIR' makes the hashed alias shown"),
        "{err}"
    );
    // What link makes is what path check proposed.
    let out = sb
        .cmd()
        .args(["link", "--json", &format!("models/{model}")])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let link: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let alias = link["alias"].as_str().unwrap();
    assert_eq!(format!("{alias}/trained.pt"), proposed);
    let out = sb.cmd().args(["path", "check", &proposed]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A component over 255 bytes cannot exist: no `link DIR` hint for it.
    let huge = format!("DyRCNNx8:{}", "x=1+".repeat(80));
    let out = sb
        .cmd()
        .args(["path", "check", &format!("models/{huge}/out.csv")])
        .run();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cannot exist on disk"), "{err}");
    assert!(!err.contains("runctl link DIR"), "{err}");
}

#[test]
fn path_check_numbers_components_as_the_path_was_written() {
    let sb = Sandbox::new();
    let long = "a".repeat(300);
    // (path as written, the number of its long component)
    let absolute = format!("{}/{long}/f", sb.work().display());
    let depth = sb.work().components().count(); // "/" and each folder: the long one is next
    let cases = [
        (absolute, depth),
        (format!("models/{long}/trained.pt"), 2),
        (format!("./a//{long}"), 3),
        (long.clone(), 1),
    ];
    for (path, number) in &cases {
        let out = sb.run(&["path", "check", "--json", path]);
        assert_eq!(out.code, Some(1), "{}", out.stderr);
        let json = out.json();
        let component = &json[0]["long_components"][0];
        assert_eq!(component["number"], *number, "{path}: {component}");
        assert_eq!(component["bytes"], 300);
        let out = sb.run(&["path", "check", path]);
        let line = format!("component {number} is 300 bytes (limit 255)");
        assert!(out.stdout.contains(&line), "{path}: {}", out.stdout);
    }
}
