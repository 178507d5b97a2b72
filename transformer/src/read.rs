//! Reading a deposition's latest files from the archive (read-only; never locks or writes).

use msgmig_schemas::archive::{changed_ns, classify_entries, ctime_ns, mtime_ns, MessageFileName};
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
    /// Status-change time ([`ctime_ns`]).
    pub ctime_ns: i64,
    /// SHA-256 (hex) of `bytes`.
    pub sha256: String,
}

/// How often a file that changes during the read is tried before giving up (it is then reported
/// as unreadable and retried on the next event for its deposition).
const READ_ATTEMPTS: usize = 3;

/// Pauses between attempts after an I/O error (EIO, ESTALE on NFS, …): 0.1 s, 0.4 s, 1.6 s, 3.2 s;
/// an error that outlasts them quarantines the deposition as unreadable.
const IO_RETRY_DELAYS_MS: [u64; 4] = [100, 400, 1600, 3200];

/// Why a deposition's files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The folder or a file failed with an I/O error that retries did not clear.
    #[error("{0}")]
    Io(#[source] io::Error),
    /// A latest message file is not a regular file: a symbolic link (inside or outside the
    /// archive, dangling or not), a FIFO, a directory, a socket or a device. Never followed,
    /// never opened for reading in a way that could block, never skipped in favour of an older
    /// version.
    #[error("the latest message file is {0}, not a regular file: nothing of the deposition is loaded until it is one")]
    NotRegular(&'static str),
}

/// A file's (size, mtime, ctime): what must not move while it is read.
type Stat = (u64, i64, i64);

fn state(meta: &std::fs::Metadata) -> Stat {
    (meta.len(), mtime_ns(meta), ctime_ns(meta))
}

/// What kind of entry `meta` describes (for the quarantine reason).
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Opens `path` only if it is a regular file: `O_NOFOLLOW` (a symlink fails with ELOOP) and
/// `O_NONBLOCK` (a FIFO opens without waiting for a writer), then `fstat` on the open handle
/// (no race between the check and the read).
fn open_regular(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), ReadError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(ReadError::NotRegular("a symbolic link"))
        }
        Err(e) => return Err(ReadError::Io(e)),
    };
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular(kind_of(&meta)));
    }
    Ok((file, meta))
}

/// Reads one regular file whole, accepting the bytes only if size, mtime and ctime did not
/// change meanwhile.
fn read_stable(path: &Path) -> Result<(Vec<u8>, Stat), ReadError> {
    use std::io::Read;
    for attempt in 1..=READ_ATTEMPTS {
        msgmig_bus::error_point!(
            "transformer_read_error",
            Err(ReadError::Io(io::Error::from_raw_os_error(libc::EIO)))
        );
        let (mut file, meta) = open_regular(path)?;
        let before = state(&meta);
        let mut bytes = Vec::with_capacity(before.0 as usize);
        file.read_to_end(&mut bytes).map_err(ReadError::Io)?;
        let after = state(&file.metadata().map_err(ReadError::Io)?);
        if before == after && bytes.len() as u64 == after.0 {
            return Ok((bytes, after));
        }
        std::thread::sleep(std::time::Duration::from_millis(50 * attempt as u64));
    }
    Err(ReadError::Io(io::Error::other(format!(
        "file kept changing during {READ_ATTEMPTS} reads"
    ))))
}

/// [`read_stable`], retrying I/O errors with backoff ([`IO_RETRY_DELAYS_MS`]). A file that is
/// gone is not retried (the next event brings the new state), nor is a non-regular file.
fn read_retrying(path: &Path) -> Result<(Vec<u8>, Stat), ReadError> {
    let mut delays = IO_RETRY_DELAYS_MS.iter();
    loop {
        match read_stable(path) {
            Err(ReadError::Io(e)) if e.kind() != io::ErrorKind::NotFound => match delays.next() {
                Some(ms) => {
                    tracing::warn!(event = "read_retry", file_path = %path.display(), error = %e, retry_in_ms = ms,
                        "reading a message file failed: retrying");
                    std::thread::sleep(std::time::Duration::from_millis(*ms));
                }
                None => return Err(ReadError::Io(e)),
            },
            other => return other,
        }
    }
}

/// A failed read: the archive-relative path of the file (None for the folder), the error, and
/// the newest change time ([`changed_ns`]) among the latest files as listed (0 if none could be stat'ed): the
/// quarantine's generation, so that it is never taken for an older state than the one stored.
pub type Failure = (Option<String>, ReadError, i64);

/// Lists `root/<deposition_id>` and reads its latest message files, in
/// content-type order. Every entry counts for picking the latest version, whatever its type:
/// a newer version that is not a regular file fails the deposition rather than letting an
/// older version pass for the latest.
///
/// Errors: the folder cannot be listed; a latest file is not a regular file; a read fails
/// after retries. Each with the file's archive-relative path so the caller can quarantine
/// precisely.
pub fn read_deposition(root: &Path, deposition_id: &str) -> Result<Vec<SourceFile>, Failure> {
    let dir = root.join(deposition_id);
    let folder = |e: io::Error| (None, ReadError::Io(e), 0);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(folder)? {
        names.push(
            entry
                .map_err(folder)?
                .file_name()
                .to_string_lossy()
                .into_owned(),
        );
    }
    let listing = classify_entries(deposition_id, names);
    let generation = listing
        .latest
        .iter()
        .filter_map(|l| std::fs::symlink_metadata(dir.join(&l.name)).ok())
        .map(|m| changed_ns(&m))
        .max()
        .unwrap_or(0);
    let mut files = Vec::with_capacity(listing.latest.len());
    for latest in listing.latest {
        let rel = format!("{deposition_id}/{}", latest.name);
        let (bytes, (size, mtime_ns, ctime_ns)) = match read_retrying(&dir.join(&latest.name)) {
            Ok(r) => r,
            // Vanished between listing and read: the next event brings the new state.
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err((Some(rel), e, generation)),
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        files.push(SourceFile {
            path: rel,
            name: latest.parsed,
            bytes,
            size,
            mtime_ns,
            ctime_ns,
            sha256,
        });
    }
    Ok(files)
}
