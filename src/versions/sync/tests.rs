//! The sync plan against small registries and listings: the two passes, bare keys and URL
//! bases, one file under two prefixes, unsafe names.

use super::super::has_scheme;
use super::super::listing::parse_listing_line;
use super::*;
use VersionStatus::{Completed, Pending};

fn default_template() -> Template {
    Template::parse("{family}_v{version}.safetensors").unwrap()
}

fn view(name: &str, job: Option<&str>, status: VersionStatus, url: Option<&str>) -> VersionView {
    VersionView {
        family: "style_1".into(),
        name: name.into(),
        job_id: job.map(str::to_string),
        status: status.into(),
        artifact_url: url.map(str::to_string),
        etag: None,
        size: None,
    }
}

fn listing(keys: &[&str]) -> Vec<ListingEntry> {
    keys.iter()
        .map(|k| parse_listing_line(k).unwrap().unwrap())
        .collect()
}

#[test]
fn two_pass_matching() {
    let t = default_template();
    let versions = vec![
        view("V8", Some("job8"), Pending, None),
        view(
            "V7",
            Some("job7"),
            Completed,
            Some("https://x/style_1_vV7.safetensors"),
        ),
        view(
            "style_1_vV6.safetensors",
            None,
            Completed,
            Some("https://old/elsewhere"),
        ),
        view(
            "legacy",
            Some("style_1_vV5"),
            Completed,
            Some("https://old/other"),
        ),
    ];
    let keys = [
        "https://x/style_1_vV8.safetensors",
        "https://x/style_1_vV7.safetensors",
        "https://x/style_1_vV6.safetensors",
        "https://x/style_1_vV5.safetensors",
        "https://x/style_1_vV9.safetensors",
        "https://x/style_1_vV9.safetensors",
        "https://x/notes.txt",
    ];
    let plan = plan_sync(&t, versions, listing(&keys), SyncOptions::default());
    assert_eq!(
        rules(&plan),
        vec![
            "update V8 (pending by name) https://x/style_1_vV8.safetensors",
            "in sync V7",
            "update style_1_vV6.safetensors (synced by file name) https://x/style_1_vV6.safetensors",
            "update legacy (synced by id) https://x/style_1_vV5.safetensors",
            "create V9 https://x/style_1_vV9.safetensors",
            "in sync V9",
            "skip https://x/notes.txt",
        ]
    );
}

fn rules(plan: &SyncPlan) -> Vec<String> {
    plan.actions
        .iter()
        .map(|a| match a {
            SyncAction::Update {
                name, rule, url, ..
            } => format!("update {name} ({rule}) {url}"),
            SyncAction::InSync { name, .. } => format!("in sync {name}"),
            SyncAction::Create { name, url, .. } => format!("create {name} {url}"),
            SyncAction::Skip { location, .. } => format!("skip {location}"),
        })
        .collect()
}

#[test]
fn the_family_filter_skips_others() {
    let plan = plan_sync(
        &default_template(),
        vec![],
        listing(&["style_2_vV1.safetensors"]),
        SyncOptions {
            family: Some("style_1"),
            ..SyncOptions::default()
        },
    );
    assert!(
        matches!(&plan.actions[0], SyncAction::Skip { reason, .. } if reason.contains("style_2"))
    );
}

#[test]
fn a_bare_key_never_replaces_a_url_that_ends_with_it() {
    let t = default_template();
    let url = "s3://loras/style_1_vV1.safetensors";
    let versions = vec![
        view("V1", Some("job-42"), Completed, Some(url)),
        view(
            "V2",
            None,
            Completed,
            Some("https://bucket.s3.amazonaws.com/loras/style_1_vV2.safetensors"),
        ),
        view(
            "V3",
            None,
            Completed,
            Some("s3://loras/old/style_1_vV3.safetensors"),
        ),
        view("V4", None, Pending, None),
    ];
    let keys = [
        "style_1_vV1.safetensors",
        "loras/style_1_vV2.safetensors",
        "new/style_1_vV3.safetensors",
        "style_1_vV4.safetensors",
    ];
    let plan = plan_sync(&t, versions.clone(), listing(&keys), SyncOptions::default());
    assert_eq!(
        rules(&plan),
        vec![
            "in sync V1",
            "in sync V2",
            "skip new/style_1_vV3.safetensors",
            "update V4 (pending by name) style_1_vV4.safetensors",
        ]
    );
    // With a URL base, a bare key becomes a URL; one that a stored URL ends with still
    // leaves it alone.
    let base = SyncOptions {
        url_base: Some("s3://loras"),
        ..SyncOptions::default()
    };
    let plan = plan_sync(&t, versions, listing(&keys), base);
    assert_eq!(
        rules(&plan),
        vec![
            "in sync V1",
            "in sync V2",
            "update V3 (synced by url) s3://loras/new/style_1_vV3.safetensors",
            "update V4 (pending by name) s3://loras/style_1_vV4.safetensors",
        ]
    );
    let plan = plan_sync(&t, vec![], listing(&["style_1_vV5.safetensors"]), base);
    assert_eq!(
        rules(&plan),
        vec!["create V5 s3://loras/style_1_vV5.safetensors"]
    );
    assert!(matches!(
        &plan.actions[0],
        SyncAction::Create { job_id: Some(j), .. } if j == "style_1_vV5"
    ));
}

#[test]
fn one_file_under_two_prefixes_is_stable_and_reported() {
    let t = default_template();
    let keys = ["a/style_1_vV1.safetensors", "b/style_1_vV1.safetensors"];
    // Nothing yet: the first in listing order.
    let plan = plan_sync(&t, vec![], listing(&keys), SyncOptions::default());
    assert_eq!(
        rules(&plan),
        vec![
            "create V1 a/style_1_vV1.safetensors",
            "skip b/style_1_vV1.safetensors"
        ]
    );
    assert_eq!(
        plan.ambiguous,
        vec![Ambiguity {
            file: "style_1_vV1.safetensors".into(),
            chosen: "a/style_1_vV1.safetensors".into(),
            others: vec!["b/style_1_vV1.safetensors".into()],
        }]
    );
    // Already synced to the second: it stays there, whatever the order.
    let synced = vec![view(
        "V1",
        None,
        Completed,
        Some("b/style_1_vV1.safetensors"),
    )];
    let plan = plan_sync(&t, synced, listing(&keys), SyncOptions::default());
    assert_eq!(
        rules(&plan),
        vec!["skip a/style_1_vV1.safetensors", "in sync V1"]
    );
    // The same line twice is no ambiguity.
    let twice = ["a/style_1_vV1.safetensors", "a/style_1_vV1.safetensors"];
    let plan = plan_sync(&t, vec![], listing(&twice), SyncOptions::default());
    assert!(plan.ambiguous.is_empty());
}

#[test]
fn unsafe_names_are_skipped() {
    let t = default_template();
    let entries = vec![
        ListingEntry {
            key: Some("st\u{1b}[31myle_vV1.safetensors".into()),
            ..ListingEntry::default()
        },
        ListingEntry {
            key: Some("ok_vV1.safetensors".into()),
            size: Some(-1),
            ..ListingEntry::default()
        },
        ListingEntry {
            key: Some("ok_vV2.safetensors".into()),
            etag: Some("\u{7}".into()),
            ..ListingEntry::default()
        },
        ListingEntry {
            key: Some(format!("{}_vV3.safetensors", "f".repeat(300))),
            ..ListingEntry::default()
        },
        ListingEntry {
            key: Some("../_vV4.safetensors".into()),
            url: Some("s3://b/\u{9b}x".into()),
            ..ListingEntry::default()
        },
    ];
    let plan = plan_sync(&t, vec![], entries, SyncOptions::default());
    assert!(
        plan.actions
            .iter()
            .all(|a| matches!(a, SyncAction::Skip { .. })),
        "{plan:?}"
    );
    assert!(has_scheme("s3://b/k") && has_scheme("https://h/k"));
    assert!(!has_scheme("loras/k") && !has_scheme("://k") && !has_scheme("a b://k"));
}
