//! The checks against what the issue found and what the seed holds.

use super::*;

fn t() -> Template {
    Template::parse("{family}_v{version}.safetensors").unwrap()
}

fn new(family: &str, name: &str, status: &str) -> VersionDraft {
    VersionDraft {
        family: family.into(),
        name: Some(name.into()),
        status: status.into(),
        ..NewVersion::default()
    }
}

fn version(family: &str, name: &str, status: VersionStatus) -> NewVersion {
    NewVersion {
        family: family.into(),
        name: Some(name.into()),
        status,
        ..NewVersion::default()
    }
}

#[test]
fn what_the_issue_found_is_refused() {
    let t = t();
    let reason = |n: VersionDraft| n.checked(&t).unwrap_err().to_string();
    assert_eq!(
        reason(new("style_1", "V1", "weird")),
        "status 'weird' is not a status; use one of pending, running, completed, failed"
    );
    assert_eq!(
        reason(new("../f", "V1", "pending")),
        "family '../f' cannot contain '/'"
    );
    assert_eq!(
        reason(new("f", "x/../../y", "pending")),
        "name 'x/../../y' cannot contain '/'"
    );
    assert_eq!(
        reason(new("st\u{1b}[31myle", "V1", "pending")),
        "family 'st\\u{1b}[31myle' contains the control character U+001B"
    );
    assert!(reason(new("..", "V1", "pending")).contains("'.' or '..'"));
    assert!(reason(new(" a", "V1", "pending")).contains("white space"));
    assert!(reason(new("a", "x_vy", "pending")).contains("parsed back"));
    assert!(reason(new("a\u{202e}b", "V1", "pending")).contains("U+202E"));
    assert!(reason(new("\u{feff}b", "V1", "pending")).contains("U+FEFF"));
    assert!(reason(new("a\u{200b}", "V1", "pending")).contains("U+200B"));
    let long = "f".repeat(10 * 1024 * 1024);
    let err = reason(new(&long, "V1", "pending"));
    assert!(err.len() < 300, "{err}");
    assert!(reason(new(&"f".repeat(250), "V1", "pending")).contains("artifact name"));
}

#[test]
fn what_the_seed_has_passes() {
    let t = t();
    let mut ok = version("style_1", "V8", VersionStatus::Completed);
    ok.job_id = Some("ec487842-b853-4ca1-ba91-76bba6a59006-e2".into());
    ok.artifact_url = Some("https://bucket/loras/style_1_vV8.safetensors".into());
    ok.parameters = Some(r#"{"steps":3000}"#.into());
    ok.description = Some("more steps,\nhigher learning rate".into());
    ok.created_at = Some("2025-10-13T19:36:17.724Z".into());
    ok.etag = Some(String::new());
    ok.size = Some(0);
    assert_eq!(ok.check(&t), Ok(()));
    // The seed's older entries name a version by its file name.
    assert_eq!(
        version(
            "style_1",
            "style_1_vV8.safetensors",
            VersionStatus::Completed
        )
        .check(&t),
        Ok(())
    );
    let mut bad = ok.clone();
    bad.parameters = Some("[1]".into());
    assert!(bad.check(&t).is_err());
    let mut bad = ok.clone();
    bad.created_at = Some("yesterday".into());
    assert!(bad.check(&t).is_err());
    let mut bad = ok;
    bad.size = Some(-1);
    assert!(bad.check(&t).is_err());
}

proptest::proptest! {
    #[test]
    fn printable_leaves_nothing_that_acts_on_a_terminal(text in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}\\u{202a}-\\u{202e}a-z]*") {
        let shown = printable(&text);
        proptest::prop_assert!(!shown.chars().any(is_hidden), "{:?}", shown);
        // What passes the check is shown as it is.
        if check_text("description", &text).is_ok() && !text.contains(['\n', '\t']) {
            proptest::prop_assert_eq!(shown.as_ref(), text.as_str());
        }
    }
}

#[test]
fn printable_escapes_controls_only() {
    assert!(matches!(
        printable("style_1 é"),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(printable("a\u{1b}[31m\nb"), "a\\u{1b}[31m\\nb");
    assert_eq!(parse_status("completed"), Ok(VersionStatus::Completed));
    assert!(parse_status("Completed").is_err());
}
