//! File events are untrusted input when they come over Kafka: a path must name a message file
//! inside the archive before anything is read (issue 3, "messages on the topics are untrusted").

use msgmig_schemas::archive::{is_deposition_id, MessageFileName};
use msgmig_schemas::record::{FileEvent, SCHEMA_VERSION};
use std::path::{Component, Path};

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A payload version this build does not know.
    SchemaVersion(u32),
    /// The path leaves the archive, is not `<deposition>/<message file name>`, or does not
    /// match the file-name grammar (domain.md §1.3).
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
        return bad("not a message file name (domain.md §1.3)");
    };
    if parsed.version != event.version || parsed.content_type != event.content_type {
        return bad("version or content type differ from the file name");
    }
    // The folder must not lead out of the archive. The file itself is never followed: the
    // reader opens it with O_NOFOLLOW and quarantines the deposition if it is not a regular
    // file (issue 10 §6).
    inside(root, &root.join(folder))
}

/// `target` must resolve inside `root` (a missing target is fine: nothing will be read).
fn inside(root: &Path, target: &Path) -> Result<(), Refusal> {
    let Ok(target) = target.canonicalize() else {
        return Ok(());
    };
    let root = root
        .canonicalize()
        .map_err(|e| Refusal::BadPath(format!("cannot resolve the archive root: {e}")))?;
    if target.starts_with(&root) {
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
