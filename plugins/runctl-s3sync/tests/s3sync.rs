//! `runctl s3sync` against a real S3-compatible server (s3s-fs) started by this test on
//! 127.0.0.1, through the real runctl binary and its plugin dispatch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const ACCESS_KEY: &str = "AKIRUNCTLTEST";
const SECRET_KEY: &str = "runctl-test-secret-key";

/// One key pair, refused as AWS refuses an unknown key: `InvalidAccessKeyId` with AWS's
/// message (s3s's own `SimpleAuth` answers `NotSignedUp`).
struct AwsLikeAuth;

#[async_trait::async_trait]
impl s3s::auth::S3Auth for AwsLikeAuth {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<s3s::auth::SecretKey> {
        if access_key == ACCESS_KEY {
            Ok(SECRET_KEY.into())
        } else {
            Err(s3s::s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            ))
        }
    }
}

/// The S3 server's root folder (buckets are its sub-folders) and port; one server for all tests.
fn server() -> &'static (PathBuf, u16) {
    static SERVER: OnceLock<(PathBuf, u16)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let root = tempfile::tempdir().unwrap().keep();
        let (tx, rx) = std::sync::mpsc::channel();
        let fs_root = root.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                use hyper_util::rt::{TokioExecutor, TokioIo};
                let fs = s3s_fs::FileSystem::new(&fs_root).unwrap();
                let mut builder = s3s::service::S3ServiceBuilder::new(fs);
                builder.set_auth(AwsLikeAuth);
                let service = builder.build();
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap().port()).unwrap();
                let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    let conn = http
                        .serve_connection(TokioIo::new(socket), service.clone())
                        .into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            });
        });
        let port = rx.recv().unwrap();
        (root, port)
    })
}

/// A bucket with objects, made on the server's disk (s3s-fs serves the folder as it is).
fn bucket(name: &str, keys: &[String]) {
    let dir = server().0.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for key in keys {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("weights of {key}")).unwrap();
    }
}

/// A bucket created and an object uploaded through the S3 API itself (so the server keeps its
/// ETag), with the same client library the plugin uses.
fn upload(bucket_name: &str, key: &str, content: &[u8]) {
    let region = s3::Region::Custom {
        region: "us-east-1".into(),
        endpoint: format!("http://127.0.0.1:{}", server().1),
    };
    let credentials =
        s3::creds::Credentials::new(Some(ACCESS_KEY), Some(SECRET_KEY), None, None, None).unwrap();
    if !server().0.join(bucket_name).exists() {
        s3::Bucket::create_with_path_style(
            bucket_name,
            region.clone(),
            credentials.clone(),
            s3::BucketConfiguration::default(),
        )
        .unwrap();
    }
    let bucket = s3::Bucket::new(bucket_name, region, credentials)
        .unwrap()
        .with_path_style();
    bucket.put_object(key, content).unwrap();
}

/// The runctl binary that `cargo test --workspace` built beside this test.
fn runctl() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let runctl = dir.join(format!("runctl{}", std::env::consts::EXE_SUFFIX));
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if !runctl.is_file() {
            // `cargo test -p runctl-s3sync` alone: build the runctl this plugin drives.
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-p", "runctl", "--bin", "runctl"])
                .status()
                .unwrap();
            assert!(status.success(), "cannot build runctl");
        }
    });
    assert!(runctl.is_file(), "{} is missing", runctl.display());
    runctl
}

struct Project {
    tmp: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("bin")).unwrap();
        std::fs::create_dir(tmp.path().join("work")).unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_runctl-s3sync"),
            tmp.path().join("bin/runctl-s3sync"),
        )
        .unwrap();
        let p = Project { tmp };
        assert!(p.runctl(&["init"]).status.success());
        p
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new(runctl());
        cmd.current_dir(self.tmp.path().join("work"))
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.tmp.path().join("bin").display()),
            )
            .env("HOME", self.tmp.path())
            .env("RUST_BACKTRACE", "1")
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        cmd
    }

    fn runctl(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    fn s3sync(&self, bucket: &str, extra: &[&str]) -> Output {
        let endpoint = format!("http://127.0.0.1:{}", server().1);
        let mut args = vec![
            "s3sync",
            "--bucket",
            bucket,
            "--endpoint",
            &endpoint,
            "--path-style",
        ];
        args.extend_from_slice(extra);
        self.runctl(&args)
    }

    fn versions(&self) -> serde_json::Value {
        let out = self.runctl(&["version", "list", "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_clean_error(out: &Output) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("\nhint: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn more_than_a_thousand_keys_all_reach_the_registry() {
    for v in 1..=1200 {
        let key = format!("loras/style_7_vV{v}.safetensors");
        upload("many", &key, format!("weights of {key}").as_bytes());
    }
    let p = Project::new();
    let out = p.s3sync("many", &["--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("s3sync: 1200 objects in s3://many/"),
        "{}",
        text(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["created"].as_array().unwrap().len(), 1200);
    let versions = p.versions();
    assert_eq!(versions.as_array().unwrap().len(), 1200);
    let v1200 = versions
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "V1200")
        .unwrap();
    assert_eq!(
        v1200["artifact_url"],
        "s3://many/loras/style_7_vV1200.safetensors"
    );
    assert_eq!(
        v1200["size"],
        "weights of loras/style_7_vV1200.safetensors".len()
    );
    // --prefix narrows the listing.
    let out = p.s3sync(
        "many",
        &["--prefix", "loras/style_7_vV12", "--dry-run", "--json"],
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["in_sync"], 12, "V12, V120..V129 and V1200");
}

#[test]
fn the_seed_scenario_through_the_plugin_and_a_second_sync_is_a_no_op() {
    upload("loras", "style_1_vV9.safetensors", b"the V9 weights");
    bucket(
        "loras",
        &["style_1_vV8.safetensors".into(), "README.md".into()],
    );
    let p = Project::new();
    for _ in 0..8 {
        assert!(p.runctl(&["version", "new", "style_1"]).status.success());
    }
    let out = p.runctl(&[
        "version",
        "new",
        "style_1",
        "--job-id",
        "ec487842-e2",
        "--param",
        "steps=3000",
    ]);
    assert_eq!(text(&out.stdout), "V9\n");

    let out = p.s3sync("loras", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report
            .contains("updated style_1 V8 <- s3://loras/style_1_vV8.safetensors (pending by name)"),
        "{report}"
    );
    assert!(
        report
            .contains("updated style_1 V9 <- s3://loras/style_1_vV9.safetensors (pending by name)"),
        "{report}"
    );
    assert!(report.contains("skipped s3://loras/README.md"), "{report}");
    let versions = p.versions();
    let v9: Vec<_> = versions
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["name"] == "V9")
        .collect();
    assert_eq!(v9.len(), 1);
    assert_eq!(v9[0]["status"], "completed");
    assert_eq!(v9[0]["job_id"], "ec487842-e2");
    assert_eq!(v9[0]["artifact_url"], "s3://loras/style_1_vV9.safetensors");
    assert_eq!(v9[0]["parameters"]["steps"], 3000);
    // The listing's size and last-modified time reached the registry (s3s-fs lists no ETag;
    // the plugin passes it on when a store sends one).
    assert!(
        v9[0]["last_modified"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{}",
        v9[0]
    );
    assert_eq!(v9[0]["size"], "the V9 weights".len());

    let again = p.s3sync("loras", &[]);
    assert!(again.status.success());
    assert_eq!(
        text(&again.stdout),
        "skipped s3://loras/README.md: the file name does not fit the template {family}_v{version}.safetensors\nnothing to change: 2 already in sync, 1 skipped\n"
    );
    assert_eq!(p.versions(), versions);
}

#[test]
fn an_unreachable_endpoint_fails_cleanly() {
    let p = Project::new();
    let out = p.runctl(&[
        "s3sync",
        "--bucket",
        "loras",
        "--endpoint",
        "http://127.0.0.1:1",
        "--path-style",
    ]);
    assert_clean_error(&out);
    assert!(
        text(&out.stderr).contains("cannot list s3://loras/"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(p.versions(), serde_json::json!([]));
}

#[test]
fn a_wrong_bucket_and_wrong_credentials_name_the_s3_error() {
    bucket("exists", &["style_1_vV1.safetensors".into()]);
    let p = Project::new();
    let endpoint = format!("http://127.0.0.1:{}", server().1);
    let s3sync = |key: &str, secret: &str, bucket: &str| {
        p.cmd()
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .args(["s3sync", "--bucket", bucket, "--endpoint", &endpoint])
            .output()
            .unwrap()
    };
    for (out, line, hint) in [
        (
            s3sync(ACCESS_KEY, SECRET_KEY, "no-such-bucket"),
            "error: cannot list s3://no-such-bucket/: HTTP 404 NoSuchBucket: The specified bucket does not exist.\n",
            "hint: check the bucket name",
        ),
        (
            s3sync("AKIWRONG", SECRET_KEY, "exists"),
            "error: cannot list s3://exists/: HTTP 403 InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.\n",
            "hint: check the credentials",
        ),
        (
            s3sync(ACCESS_KEY, "wrong", "exists"),
            "error: cannot list s3://exists/: HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match",
            "hint: check the credentials",
        ),
    ] {
        assert_clean_error(&out);
        let err = text(&out.stderr);
        assert!(err.starts_with(line), "{line}\n{err}");
        assert!(err.contains(hint), "{err}");
        assert!(!err.contains("<?xml") && !err.contains("<Code>"), "{err}");
        assert_eq!(err.lines().count(), 2, "{err}");
    }
    assert_eq!(p.versions(), serde_json::json!([]));
}

#[test]
fn a_local_endpoint_needs_no_path_style_flag() {
    bucket("local", &["style_3_vV1.safetensors".into()]);
    let p = Project::new();
    // 127.0.0.1 cannot carry the bucket as a subdomain: path style is chosen on its own.
    let endpoint = format!("http://127.0.0.1:{}", server().1);
    let out = p.runctl(&["s3sync", "--bucket", "local", "--endpoint", &endpoint]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("created style_3 V1 <- s3://local/style_3_vV1.safetensors"),
        "{}",
        text(&out.stdout)
    );
    // An endpoint that is no URL says so.
    let out = p.runctl(&["s3sync", "--bucket", "local", "--endpoint", "127.0.0.1:9"]);
    assert_clean_error(&out);
    assert!(
        text(&out.stderr).contains("--endpoint '127.0.0.1:9' is not a URL"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn https_urls_in_the_seeds_form_and_an_empty_bucket() {
    upload("web", "loras/style_4_vV1.safetensors", b"v1");
    upload("web", "loras/style 4_vV2.safetensors", b"v2");
    let p = Project::new();
    assert!(p.runctl(&["version", "new", "style_4"]).status.success());
    let out = p.s3sync("web", &["--url-style", "https"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let base = format!("http://127.0.0.1:{}/web", server().1);
    let versions = p.versions();
    let urls: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["artifact_url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        vec![
            format!("{base}/loras/style%204_vV2.safetensors"),
            format!("{base}/loras/style_4_vV1.safetensors"),
        ],
        "the file name comes from the key, the URL is encoded"
    );
    let again = p.s3sync("web", &["--url-style", "https"]);
    assert!(
        text(&again.stdout).starts_with("nothing to change: 2 already in sync"),
        "{}",
        text(&again.stdout)
    );
    // An empty bucket is an answer, not a failed listing.
    upload("void", "other/readme.txt", b"x");
    let out = p.s3sync("void", &["--prefix", "loras/"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "nothing to change: 0 already in sync, 0 skipped\n"
    );
}

#[test]
fn help_names_the_contract() {
    let out = Command::new(env!("CARGO_BIN_EXE_runctl-s3sync"))
        .arg("--help")
        .output()
        .unwrap();
    let help = text(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("AWS_ACCESS_KEY_ID"),
        "{help}"
    );
    // Run outside runctl, it says how to run it.
    let out = Command::new(env!("CARGO_BIN_EXE_runctl-s3sync"))
        .env_remove("RUNCTL")
        .args(["--bucket", "x"])
        .output()
        .unwrap();
    assert_clean_error(&out);
    assert!(
        text(&out.stderr).contains("run this plugin as `runctl s3sync"),
        "{}",
        text(&out.stderr)
    );
}
