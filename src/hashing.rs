//! Identifier hashes and path-length checks. Pure: no I/O, no SQL, no terminal.
//!
//! [`compute_hash`] is byte-for-byte the pipeline recipe of docs/hashing.md: parts with their
//! leading `:` stripped, joined with `_`, digested (MD5 by default), the first N hex digits
//! prefixed with `:hash=`; a part that already contains `hash=` is returned as is.

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The marker of a hashed identifier.
pub const MARKER: &str = "hash=";

/// The longest component most filesystems accept, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 255;

/// The digest behind an identifier hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgo {
    #[default]
    Md5,
    Sha256,
}

impl HashAlgo {
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgo::Md5 => "md5",
            HashAlgo::Sha256 => "sha256",
        }
    }
}

/// The result of hashing one identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    /// `:hash=xxxxxxxx`, or the part returned unchanged when it already held `hash=`.
    pub text: String,
    /// The hex digits alone (`xxxxxxxx`), when this call computed them.
    pub hex: Option<String>,
    /// The joined identifier that was digested (empty when a part was already a hash).
    pub identifier: String,
}

/// Hex digits of the digest of `data`, at most `length` of them.
pub fn digest_hex(algo: HashAlgo, data: &[u8], length: usize) -> String {
    let mut hex = match algo {
        HashAlgo::Md5 => hex::encode(Md5::digest(data)),
        HashAlgo::Sha256 => hex::encode(Sha256::digest(data)),
    };
    hex.truncate(length);
    hex
}

/// The identifier the recipe digests: parts with every leading `:` removed, joined with `_`.
pub fn join_parts<S: AsRef<str>>(parts: &[S]) -> String {
    let mut joined = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            joined.push('_');
        }
        joined.push_str(part.as_ref().trim_start_matches(':'));
    }
    joined
}

/// `compute_hash(*parts, length=length)` of the pipeline recipe, with a choice of digest.
pub fn compute_hash<S: AsRef<str>>(parts: &[S], length: usize, algo: HashAlgo) -> Hashed {
    if let Some(done) = parts.iter().find(|p| p.as_ref().contains(MARKER)) {
        return Hashed {
            text: done.as_ref().to_string(),
            hex: None,
            identifier: String::new(),
        };
    }
    let identifier = join_parts(parts);
    let hex = digest_hex(algo, identifier.as_bytes(), length);
    Hashed {
        text: format!(":{MARKER}{hex}"),
        hex: Some(hex),
        identifier,
    }
}

/// [`compute_hash`] of one `--batch` line (parts separated by tabs), written into `out` without
/// allocating per line: the `:hash=...` text, or the part that already held `hash=`.
pub fn hash_tab_line(line: &str, length: usize, algo: HashAlgo, out: &mut String) {
    if let Some(done) = line.split('\t').find(|p| p.contains(MARKER)) {
        out.push_str(done);
        return;
    }
    fn feed<D: Digest>(mut digest: D, line: &str) -> D {
        for (i, part) in line.split('\t').enumerate() {
            if i > 0 {
                digest.update(b"_");
            }
            digest.update(part.trim_start_matches(':').as_bytes());
        }
        digest
    }
    let mut buf = [0u8; 64];
    let hex: &str = match algo {
        HashAlgo::Md5 => hex_into(&feed(Md5::new(), line).finalize(), &mut buf),
        HashAlgo::Sha256 => hex_into(&feed(Sha256::new(), line).finalize(), &mut buf),
    };
    out.push(':');
    out.push_str(MARKER);
    out.push_str(hex.get(..length.min(hex.len())).unwrap_or(hex));
}

fn hex_into<'b>(digest: &[u8], buf: &'b mut [u8; 64]) -> &'b str {
    // Digests here are 16 (MD5) or 32 (SHA-256) bytes, so the slot always fits.
    let slot = &mut buf[..digest.len() * 2];
    match hex::encode_to_slice(digest, slot) {
        Ok(()) => std::str::from_utf8(slot).unwrap_or_default(),
        Err(_) => "",
    }
}

/// The hex digits named by `text`: `a7f3c9d4`, `:hash=a7f3c9d4`, `hash=a7f3c9d4`, or an alias
/// such as `models/DyRCNNx8:hash=a7f3c9d4`.
pub fn hex_of(text: &str) -> Option<&str> {
    let tail = match text.rfind(MARKER) {
        Some(at) => text.get(at + MARKER.len()..)?,
        None => text,
    };
    let end = tail
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(tail.len());
    let hex = tail.get(..end)?;
    let whole = text.contains(MARKER) || end == tail.len();
    (whole && !hex.is_empty()).then_some(hex)
}

/// A folder name split into the prefix kept in its alias and the identifier that is hashed:
/// `DyRCNNx8:tsteps=20+..._42_imagenette` -> (`DyRCNNx8`, `tsteps=20+..._42_imagenette`).
/// With `prefix`, the name must start with it; without, it is split at the first `:`.
pub fn split_folder_name<'a>(name: &'a str, prefix: Option<&str>) -> Option<(&'a str, &'a str)> {
    match prefix {
        Some(p) => name.strip_prefix(p).map(|rest| (&name[..p.len()], rest)),
        None => Some(name.split_once(':').unwrap_or(("", name))),
    }
}

/// The alias folder name for a prefix and hex digits: `PREFIX:hash=xxxxxxxx`.
pub fn alias_name(prefix: &str, hex: &str) -> String {
    format!("{prefix}:{MARKER}{hex}")
}

/// A path component over [`MAX_COMPONENT_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongComponent {
    /// 0-based position among the path's components.
    pub index: usize,
    pub component: String,
    pub bytes: usize,
    /// The hashed form that fits: `PREFIX:hash=xxxxxxxx`.
    pub proposed: String,
}

/// What [`check_path`] found about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathCheck {
    pub path: String,
    /// Length of the path in characters.
    pub chars: usize,
    pub max_path: usize,
    pub long_components: Vec<LongComponent>,
    /// Components under the byte limit hashed too, so that the path fits `max_path`: folders
    /// named `PREFIX:ARGS`, longest first, as `runctl link` would alias them.
    pub shortened: Vec<LongComponent>,
    /// The path with every long component (and each of `shortened`) hashed.
    pub proposed: String,
    /// Length of `proposed` in characters.
    pub proposed_chars: usize,
}

impl PathCheck {
    /// True when the path is within both limits.
    pub fn ok(&self) -> bool {
        self.long_components.is_empty() && self.chars <= self.max_path
    }
}

/// The hashed alias of one component, as `runctl link` names it: `PREFIX:hash=xxxxxxxx`.
fn hashed_component(component: &str, length: usize, algo: HashAlgo) -> String {
    let (prefix, rest) = split_folder_name(component, None).unwrap_or(("", component));
    let hex = digest_hex(algo, join_parts(&[rest]).as_bytes(), length);
    alias_name(prefix, &hex)
}

/// Check `path` (a `/`-separated path) against the component and total-length limits, and
/// propose the hashed form: every component over the byte limit hashed, then, while the path
/// is still over `max_path`, the longest `PREFIX:ARGS` folders (not already hashed, not the
/// last component, which is the file or folder itself) hashed as `link` would alias them.
pub fn check_path(path: &str, max_path: usize, length: usize, algo: HashAlgo) -> PathCheck {
    let mut long_components = Vec::new();
    let mut parts: Vec<String> = Vec::new();
    for (index, component) in path.split('/').enumerate() {
        if component.len() > MAX_COMPONENT_BYTES {
            let proposed = hashed_component(component, length, algo);
            parts.push(proposed.clone());
            long_components.push(LongComponent {
                index,
                component: component.to_string(),
                bytes: component.len(),
                proposed,
            });
        } else {
            parts.push(component.to_string());
        }
    }
    let chars_of = |parts: &[String]| {
        parts.iter().map(|p| p.chars().count()).sum::<usize>() + parts.len().saturating_sub(1)
    };
    let last = parts.len().saturating_sub(1);
    let mut candidates: Vec<usize> = path
        .split('/')
        .enumerate()
        .filter(|(i, c)| {
            *i < last && c.contains(':') && !c.contains(MARKER) && c.len() <= MAX_COMPONENT_BYTES
        })
        .map(|(i, _)| i)
        .collect();
    candidates.sort_by_key(|&i| std::cmp::Reverse(parts.get(i).map_or(0, String::len)));
    let mut shortened = Vec::new();
    for index in candidates {
        if chars_of(&parts) <= max_path {
            break;
        }
        let Some(part) = parts.get_mut(index) else {
            continue;
        };
        let proposed = hashed_component(part, length, algo);
        if proposed.chars().count() >= part.chars().count() {
            continue;
        }
        let component = std::mem::replace(part, proposed.clone());
        shortened.push(LongComponent {
            index,
            bytes: component.len(),
            component,
            proposed,
        });
    }
    shortened.sort_by_key(|c| c.index);
    let proposed = parts.join("/");
    PathCheck {
        path: path.to_string(),
        chars: path.chars().count(),
        max_path,
        long_components,
        shortened,
        proposed_chars: proposed.chars().count(),
        proposed,
    }
}

#[cfg(test)]
mod tests;
