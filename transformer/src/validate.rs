//! File events are untrusted input when they come over Kafka: a path must name a message file
//! inside the archive before anything is read ("messages on the topics are untrusted").

use msgmig_schemas::archive::{is_deposition_id, MessageFileName};
use msgmig_schemas::record::{FileEvent, SCHEMA_VERSION};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A payload version this build does not know.
    SchemaVersion(u32),
    /// The path leaves the archive, is not `<deposition>/<message file name>`, or does not
    /// match the file-name grammar.
    BadPath(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::SchemaVersion(v) => write!(
                f,
                "schema_version {v} is newer than this msgmig understands ({SCHEMA_VERSION}): upgrade msgmig"
            ),
            Refusal::BadPath(why) => f.write_str(why),
        }
    }
}

/// Checks a file event against the archive at `root`: payload version, path shape
/// (`D_…/name`, relative, no `..`), file-name grammar, the deposition id it claims, and that
/// the deposition folder does not resolve (through a symlink) outside `root`.
pub fn check_event(root: &Path, event: &FileEvent) -> Result<(), Refusal> {
    check_events(root, std::iter::once(event))
        .pop()
        .expect("one verdict per event")
}

/// [`check_event`] for a run of events, one verdict each, in order. The archive root is
/// resolved once per run and each deposition folder once, so a walk's events (a deposition's
/// files back to back) cost one `canonicalize` per folder instead of two per file. Blocking
/// (it touches the file system, NFS at the sites): run it off the async reactor.
pub fn check_events<'a>(
    root: &Path,
    events: impl IntoIterator<Item = &'a FileEvent>,
) -> Vec<Result<(), Refusal>> {
    let mut canonical_root: Option<Result<PathBuf, String>> = None;
    let mut folders: HashMap<&'a str, Result<(), Refusal>> = HashMap::new();
    events
        .into_iter()
        .map(|event| {
            let folder = check_shape(event)?;
            folders
                .entry(folder)
                .or_insert_with(|| {
                    let canonical = canonical_root
                        .get_or_insert_with(|| root.canonicalize().map_err(|e| e.to_string()));
                    inside(canonical, &root.join(folder))
                })
                .clone()
        })
        .collect()
}

/// Everything [`check_event`] checks without the file system; returns the deposition folder.
fn check_shape(event: &FileEvent) -> Result<&str, Refusal> {
    if event.schema_version > SCHEMA_VERSION {
        return Err(Refusal::SchemaVersion(event.schema_version));
    }
    let bad = |why: &str| Err(Refusal::BadPath(format!("{why}: {:?}", event.path)));
    let path = Path::new(&event.path);
    let parts: Vec<&str> = match path
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
    {
        Some(parts) => parts,
        None => return bad("the path is absolute or has `.`/`..` components"),
    };
    let [folder, name] = parts.as_slice() else {
        return bad("expected <deposition folder>/<message file>");
    };
    if !is_deposition_id(folder) || *folder != event.deposition_id {
        return bad("the folder is not the event's deposition id");
    }
    let Some(parsed) = MessageFileName::parse(name) else {
        return bad("not a message file name");
    };
    if parsed.version != event.version || parsed.content_type != event.content_type {
        return bad("version or content type differ from the file name");
    }
    Ok(folder)
}

/// `target` must resolve inside the archive whose resolved root is `root` (a missing target
/// is fine: nothing will be read). The folder must not lead out of the archive; the file
/// itself is never followed: the reader opens it with O_NOFOLLOW and quarantines the
/// deposition if it is not a regular file.
fn inside(root: &Result<PathBuf, String>, target: &Path) -> Result<(), Refusal> {
    let Ok(target) = target.canonicalize() else {
        return Ok(());
    };
    let root = root
        .as_ref()
        .map_err(|e| Refusal::BadPath(format!("cannot resolve the archive root: {e}")))?;
    if target.starts_with(root) {
        Ok(())
    } else {
        Err(Refusal::BadPath(format!(
            "{} resolves outside the archive (a symlink?)",
            target.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use msgmig_schemas::archive::ContentType;
    use msgmig_schemas::record::FileChange;

    fn event(path: &str, dep: &str) -> FileEvent {
        FileEvent {
            schema_version: SCHEMA_VERSION,
            path: path.into(),
            deposition_id: dep.into(),
            content_type: ContentType::MessagesToDepositor,
            version: 1,
            size: 0,
            mtime_ns: 0,
            ctime_ns: 0,
            change: FileChange::Present,
            group_len: 0,
        }
    }

    #[test]
    fn accepts_a_message_file_inside_the_archive() {
        let root = tempfile::tempdir().unwrap();
        let e = event("D_1/D_1_messages-to-depositor_P1.cif.V1", "D_1");
        assert_eq!(check_event(root.path(), &e), Ok(()));
    }

    #[test]
    fn refuses_paths_that_leave_the_archive_or_break_the_grammar() {
        let root = tempfile::tempdir().unwrap();
        for (path, dep) in [
            ("../D_1/D_1_messages-to-depositor_P1.cif.V1", "D_1"),
            ("/etc/D_1_messages-to-depositor_P1.cif.V1", "D_1"),
            ("D_1/../D_2/D_1_messages-to-depositor_P1.cif.V1", "D_1"),
            ("D_1/sub/D_1_messages-to-depositor_P1.cif.V1", "D_1"),
            ("D_1/passwd", "D_1"),
            ("D_1/D_1_messages-to-depositor_P1.cif.V1", "D_2"),
            ("X_1/X_1_messages-to-depositor_P1.cif.V1", "X_1"),
            ("D_1/D_1_messages-to-depositor_P1.cif.V2", "D_1"),
        ] {
            assert!(
                matches!(
                    check_event(root.path(), &event(path, dep)),
                    Err(Refusal::BadPath(_))
                ),
                "{path} must be refused"
            );
        }
    }

    #[test]
    fn refuses_a_deposition_folder_that_is_a_symlink_to_outside() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("D_1")).unwrap();
        let e = event("D_1/D_1_messages-to-depositor_P1.cif.V1", "D_1");
        assert!(matches!(
            check_event(root.path(), &e),
            Err(Refusal::BadPath(_))
        ));
    }

    #[test]
    fn a_run_of_events_gets_one_verdict_each_in_order() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("D_2")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("D_1")).unwrap();
        let events = [
            event("D_2/D_2_messages-to-depositor_P1.cif.V1", "D_2"),
            event("D_1/D_1_messages-to-depositor_P1.cif.V1", "D_1"),
            event("D_2/D_2_messages-to-depositor_P1.cif.V1", "D_2"),
            event("D_2/passwd", "D_2"),
            event("D_1/D_1_messages-to-depositor_P1.cif.V1", "D_1"),
        ];
        let verdicts = check_events(root.path(), &events);
        let kinds: Vec<bool> = verdicts.iter().map(Result::is_ok).collect();
        assert_eq!(kinds, [true, false, true, false, false], "{verdicts:?}");
        for (e, v) in events.iter().zip(&verdicts) {
            assert_eq!(*v, check_event(root.path(), e), "{}", e.path);
        }
    }

    #[test]
    fn refuses_a_newer_payload_version() {
        let root = tempfile::tempdir().unwrap();
        let mut e = event("D_1/D_1_messages-to-depositor_P1.cif.V1", "D_1");
        e.schema_version = SCHEMA_VERSION + 1;
        assert_eq!(
            check_event(root.path(), &e),
            Err(Refusal::SchemaVersion(SCHEMA_VERSION + 1))
        );
    }
}
