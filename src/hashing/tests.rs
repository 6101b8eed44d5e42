//! Unit and property tests of `hashing`.

use super::*;

#[test]
fn a_path_over_max_path_gets_its_longest_identifier_folders_hashed() {
    let model = format!("DyRCNNx8:{}", "tsteps=20+lr=0.001+".repeat(12));
    let path = format!("/home/me/proj/models/{model}/trained.pt");
    assert!(path.len() > 240 && model.len() < 255);
    let check = check_path(&path, 240, 8, HashAlgo::Md5);
    assert!(!check.ok());
    assert!(check.long_components.is_empty());
    let alias = hashed_component(&model, 8, HashAlgo::Md5);
    let linked = compute_hash(&[model.split_once(':').unwrap().1], 8, HashAlgo::Md5);
    assert_eq!(alias, format!("DyRCNNx8:hash={}", linked.hex.unwrap()));
    assert_eq!(
        check.proposed,
        format!("/home/me/proj/models/{alias}/trained.pt")
    );
    assert_eq!(check.shortened.len(), 1);
    assert_eq!(check.shortened[0].index, 5);
    assert!(check.proposed_chars <= 240);
    // Within the limit, nothing is hashed.
    let fine = check_path("/a/M:x=1/f", 240, 8, HashAlgo::Md5);
    assert!(fine.ok() && fine.shortened.is_empty() && fine.proposed == "/a/M:x=1/f");
}

#[test]
fn matches_known_md5_values() {
    // md5("") = d41d8cd98f00b204e9800998ecf8427e
    assert_eq!(compute_hash(&[""], 8, HashAlgo::Md5).text, ":hash=d41d8cd9");
    // md5("a_b") = 5f2b4b3e... computed by Python's hashlib
    let h = compute_hash(&[":a", "b"], 32, HashAlgo::Md5);
    assert_eq!(h.identifier, "a_b");
    assert_eq!(h.hex.as_deref(), Some(&*hex::encode(Md5::digest(b"a_b"))));
}

#[test]
fn strips_every_leading_colon_and_is_idempotent() {
    assert_eq!(join_parts(&["::x", ":y", "z:"]), "x_y_z:");
    let h = compute_hash(&["x", ":hash=a7f3c9d4", "hash=ffff"], 8, HashAlgo::Md5);
    assert_eq!(h.text, ":hash=a7f3c9d4");
    assert_eq!(h.hex, None);
}

#[test]
fn length_is_clamped_to_the_digest() {
    assert_eq!(compute_hash(&["x"], 100, HashAlgo::Md5).text.len(), 6 + 32);
    assert_eq!(
        compute_hash(&["x"], 100, HashAlgo::Sha256).text.len(),
        6 + 64
    );
}

#[test]
fn tab_lines_hash_like_compute_hash() {
    for line in ["", "a", "::a\t:b\tc", "x\t:hash=1234\thash=5", "é\t\t"] {
        for algo in [HashAlgo::Md5, HashAlgo::Sha256] {
            for length in [1, 8, 12, 100] {
                let parts: Vec<&str> = line.split('\t').collect();
                let mut out = String::new();
                hash_tab_line(line, length, algo, &mut out);
                assert_eq!(out, compute_hash(&parts, length, algo).text, "{line:?}");
            }
        }
    }
}

#[test]
fn hex_is_found_in_every_form() {
    assert_eq!(hex_of("a7f3c9d4"), Some("a7f3c9d4"));
    assert_eq!(hex_of(":hash=a7f3c9d4"), Some("a7f3c9d4"));
    assert_eq!(hex_of("models/DyRCNNx8:hash=a7f3c9d4"), Some("a7f3c9d4"));
    assert_eq!(hex_of("a7f3c9d4.hash"), None);
    assert_eq!(hex_of("nothex"), None);
    assert_eq!(hex_of(""), None);
}

#[test]
fn folder_names_split_at_the_first_colon() {
    assert_eq!(split_folder_name("M:a:b", None), Some(("M", "a:b")));
    assert_eq!(split_folder_name("plain", None), Some(("", "plain")));
    assert_eq!(split_folder_name("M_x:y", Some("M_")), Some(("M_", "x:y")));
    assert_eq!(split_folder_name("M_x", Some("Q")), None);
}

#[test]
fn path_check_finds_long_components() {
    let long = format!("Model:{}", "p".repeat(300));
    let check = check_path(&format!("models/{long}/trained.pt"), 240, 8, HashAlgo::Md5);
    assert!(!check.ok());
    assert_eq!(check.long_components.len(), 1);
    assert_eq!(check.long_components[0].index, 1);
    assert_eq!(check.long_components[0].bytes, 306);
    assert!(check.proposed.starts_with("models/Model:hash="));
    assert!(check.proposed.ends_with("/trained.pt"));
    assert!(check_path("a/b", 240, 8, HashAlgo::Md5).ok());
    assert!(!check_path(&"a/".repeat(121), 240, 8, HashAlgo::Md5).ok());
}
