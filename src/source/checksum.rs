//! A source file's MD5 and SHA-256, read once in blocks: what `resume` compares to detect
//! input drift. Reads only; knows nothing of formats.

use std::io::Read;
use std::path::Path;

use md5::Digest;

use super::SourceError;

/// MD5 and SHA-256 of a file, read once in blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksums {
    pub md5: String,
    pub sha256: String,
    pub size: u64,
}

pub fn checksums(path: &Path) -> Result<Checksums, SourceError> {
    read(path, true)
}

/// The SHA-256 of a file alone: what a pass compares against the ingested one (the MD5, which
/// here costs more than the SHA-256, is computed at ingest, and again only to report a drift).
pub fn sha256(path: &Path) -> Result<String, SourceError> {
    Ok(read(path, false)?.sha256)
}

fn read(path: &Path, with_md5: bool) -> Result<Checksums, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let (mut md5, mut sha) = (md5::Md5::new(), sha2::Sha256::new());
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        if with_md5 {
            md5.update(&buf[..n]);
        }
        sha.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Checksums {
        md5: if with_md5 {
            hex::encode(md5.finalize())
        } else {
            String::new()
        },
        sha256: hex::encode(sha.finalize()),
        size,
    })
}
