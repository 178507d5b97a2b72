//! Reading a deposition's latest files from the archive (read-only; never locks or writes).

use msgmig_schemas::archive::{classify_entries, mtime_ns, MessageFileName};
use sha2::{Digest, Sha256};
use std::io;
use std::path::Path;

/// One latest message file as read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Archive-relative path (`D_…/name`).
    pub path: String,
    pub name: MessageFileName,
    pub bytes: Vec<u8>,
    pub size: u64,
    pub mtime_ns: i64,
    /// SHA-256 (hex) of `bytes`.
    pub sha256: String,
}

/// How often a file that changes during the read is tried before giving up (it is then reported
/// as unreadable and retried on the next event for its deposition).
const READ_ATTEMPTS: usize = 3;

fn state(meta: &std::fs::Metadata) -> (u64, i64) {
    (meta.len(), mtime_ns(meta))
}

/// Reads one file whole, accepting the bytes only if size and mtime did not change meanwhile.
fn read_stable(path: &Path) -> io::Result<(Vec<u8>, u64, i64)> {
    for attempt in 1..=READ_ATTEMPTS {
        let before = state(&std::fs::metadata(path)?);
        let bytes = std::fs::read(path)?;
        let after = state(&std::fs::metadata(path)?);
        if before == after && bytes.len() as u64 == after.0 {
            return Ok((bytes, after.0, after.1));
        }
        std::thread::sleep(std::time::Duration::from_millis(50 * attempt as u64));
    }
    Err(io::Error::other(format!(
        "file kept changing during {READ_ATTEMPTS} reads"
    )))
}

/// Lists `root/<deposition_id>` and reads its latest message files (domain.md §1.4), in
/// content-type order.
///
/// Errors: the folder cannot be listed (`NotFound` when it is gone); per-file errors are returned
/// with the file's archive-relative path so the caller can quarantine precisely.
pub fn read_deposition(
    root: &Path,
    deposition_id: &str,
) -> Result<Vec<SourceFile>, (Option<String>, io::Error)> {
    let dir = root.join(deposition_id);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| (None, e))? {
        let entry = entry.map_err(|e| (None, e))?;
        if entry.file_type().map_err(|e| (None, e))?.is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    let listing = classify_entries(deposition_id, names);
    let mut files = Vec::with_capacity(listing.latest.len());
    for latest in listing.latest {
        let rel = format!("{deposition_id}/{}", latest.name);
        let (bytes, size, mtime_ns) = match read_stable(&dir.join(&latest.name)) {
            Ok(r) => r,
            // Vanished between listing and read: the next event brings the new state.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err((Some(rel), e)),
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        files.push(SourceFile {
            path: rel,
            name: latest.parsed,
            bytes,
            size,
            mtime_ns,
            sha256,
        });
    }
    Ok(files)
}
