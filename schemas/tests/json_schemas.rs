//! The JSON Schemas under `schemas/json/` are the published contract of the topics: they must be
//! exactly what the payload types generate. `MSGMIG_BLESS=1 cargo test -p msgmig-schemas --test
//! json_schemas` rewrites them after an intended change of a payload.

use std::path::PathBuf;

#[test]
fn checked_in_topic_schemas_match_the_payload_types() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json");
    let bless = std::env::var_os("MSGMIG_BLESS").is_some();
    for (name, schema) in msgmig_schemas::record::topic_json_schemas() {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with MSGMIG_BLESS=1 to create it)",
                path.display()
            )
        });
        assert_eq!(
            stored, text,
            "{name} is out of date with the payload types: rerun with MSGMIG_BLESS=1 and review the diff"
        );
    }
}

#[test]
fn schemas_name_the_fields_consumers_rely_on() {
    let schemas = msgmig_schemas::record::topic_json_schemas();
    let text =
        |n: &str| serde_json::to_string(&schemas.iter().find(|(f, _)| *f == n).unwrap().1).unwrap();
    for field in [
        "schema_version",
        "path",
        "deposition_id",
        "mtime_ns",
        "change",
    ] {
        assert!(text("file-event.schema.json").contains(field), "{field}");
    }
    for field in [
        "message_id",
        "generation",
        "file_refs",
        "deposition_end",
        "file_states",
    ] {
        assert!(text("records.schema.json").contains(field), "{field}");
    }
    for field in ["stage", "reason", "source_offset", "detail"] {
        assert!(text("dead-letter.schema.json").contains(field), "{field}");
    }
}
