//! Reading `runctl.toml`: a regular file of bounded size, parsed with the line and column of
//! a mistake and the dotted paths of keys runctl does not know (warned about, not refused).

use std::path::Path;

use super::{ProjectError, Settings};

/// Settings parsed from text, with the dotted paths of keys runctl does not know.
#[derive(Debug)]
pub struct ParsedSettings {
    pub settings: Settings,
    pub unknown_keys: Vec<String>,
}

/// Parse `runctl.toml` text; `path` is only used in error messages.
pub fn parse_settings(text: &str, path: &Path) -> Result<ParsedSettings, ProjectError> {
    let malformed = |err: toml::de::Error| {
        let (line, column) = err
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        ProjectError::Malformed {
            path: path.to_path_buf(),
            line,
            column,
            message: err.message().trim().to_string(),
        }
    };
    let de = toml::de::Deserializer::parse(text).map_err(malformed)?;
    let mut unknown_keys = Vec::new();
    let settings: Settings =
        serde_ignored::deserialize(de, |key| unknown_keys.push(key.to_string()))
            .map_err(malformed)?;
    Ok(ParsedSettings {
        settings,
        unknown_keys,
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// The largest `runctl.toml` read; a settings file is a few hundred bytes.
pub const SETTINGS_MAX_BYTES: u64 = 1024 * 1024;

/// The bytes of the settings file: a regular file (a FIFO would hang, `/dev/zero` read without
/// end) of at most [`SETTINGS_MAX_BYTES`].
pub(super) fn read_settings_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(SETTINGS_MAX_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > SETTINGS_MAX_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} bytes",
            SETTINGS_MAX_BYTES
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_reported_with_their_path() {
        let parsed =
            parse_settings("[naming]\nmax_pat = 3\n[extra]\nx = 1\n", Path::new("r")).unwrap();
        assert_eq!(parsed.unknown_keys, vec!["extra", "naming.max_pat"]);
        assert_eq!(parsed.settings, Settings::default());
    }

    #[test]
    fn malformed_names_line_and_column() {
        let err =
            parse_settings("[naming]\nmax_path = = 3\n", Path::new("runctl.toml")).unwrap_err();
        match err {
            ProjectError::Malformed { line, column, .. } => assert_eq!((line, column), (2, 12)),
            other => panic!("unexpected {other:?}"),
        }
        let err = parse_settings("[naming]\nmax_path = \"x\"\n", Path::new("r")).unwrap_err();
        assert!(
            matches!(err, ProjectError::Malformed { line: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("", 10), (1, 1));
    }
}
