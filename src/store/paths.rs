//! Paths as the DB stores them: text, exactly reversible, also for a path that is not UTF-8.

use std::path::{Path, PathBuf};

/// A path as the DB stores it: as it is when it is valid UTF-8 (every path runctl stores is
/// absolute, so it starts with `/`); else `bytes:` and every byte percent-encoded, so that a
/// path that is not UTF-8 comes back exactly (see [`text_to_path`]).
pub fn path_to_text(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    if let Some(text) = path.to_str() {
        return text.to_string();
    }
    let mut text = String::from(BYTES_PREFIX);
    for &b in path.as_os_str().as_bytes() {
        text.push_str(&format!("%{b:02X}"));
    }
    text
}

/// The path a stored text names (the inverse of [`path_to_text`]).
pub fn text_to_path(text: &str) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let Some(encoded) = text.strip_prefix(BYTES_PREFIX) else {
        return PathBuf::from(text);
    };
    let bytes: Option<Vec<u8>> = encoded
        .split('%')
        .skip(1)
        .map(|hex| u8::from_str_radix(hex, 16).ok())
        .collect();
    match bytes {
        Some(bytes) => PathBuf::from(std::ffi::OsStr::from_bytes(&bytes)),
        None => PathBuf::from(text),
    }
}

const BYTES_PREFIX: &str = "bytes:";
