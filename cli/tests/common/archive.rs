//! Hand-made depositions for the tests that need exact cases: contested message ids, a refused
//! row, a deposition that spans batches, a malformed file. Written as the legacy application
//! writes message files (loop form), by the tests themselves.

use std::path::Path;

/// One message of a hand-made file.
#[derive(Debug, Clone)]
pub struct Msg {
    pub id: String,
    /// Its `deposition_data_set_id`.
    pub says: String,
    pub subject: String,
    pub text: String,
    /// `YYYY-MM-DD HH:MM:SS`.
    pub timestamp: String,
}

impl Msg {
    pub fn new(id: &str, says: &str, subject: &str) -> Self {
        Msg {
            id: id.into(),
            says: says.into(),
            subject: subject.into(),
            text: format!("Text of {id}.\nSecond line."),
            timestamp: "2024-03-01 10:00:00".into(),
        }
    }
}

fn quoted(v: &str) -> String {
    format!("'{v}'")
}

/// Writes `folder/<folder>_<content_type>_P1.cif.V<version>` under `archive` holding `msgs`,
/// each with a status row and one file reference (in a to-depositor file).
pub fn write_file(archive: &Path, folder: &str, content_type: &str, version: u32, msgs: &[Msg]) {
    let dir = archive.join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = String::from("data_messages\n# \nloop_\n");
    for a in [
        "ordinal_id",
        "message_id",
        "deposition_data_set_id",
        "timestamp",
        "sender",
        "context_type",
        "context_value",
        "parent_message_id",
        "message_subject",
        "message_text",
        "message_type",
        "send_status",
    ] {
        s.push_str(&format!("_pdbx_deposition_message_info.{a} \n"));
    }
    for (i, m) in msgs.iter().enumerate() {
        s.push_str(&format!(
            "{} {} {} {} CS vldtn ? {} {}\n;{}\n;\ntext Y \n",
            i + 1,
            quoted(&m.id),
            m.says,
            quoted(&m.timestamp),
            quoted(&m.id),
            quoted(&m.subject),
            m.text
        ));
    }
    if content_type == "messages-to-depositor" && !msgs.is_empty() {
        s.push_str("# \nloop_\n");
        for a in [
            "ordinal_id",
            "message_id",
            "deposition_data_set_id",
            "content_type",
            "content_format",
            "partition_number",
            "version_id",
            "storage_type",
            "upload_file_name",
        ] {
            s.push_str(&format!("_pdbx_deposition_message_file_reference.{a} \n"));
        }
        for (i, m) in msgs.iter().enumerate() {
            s.push_str(&format!(
                "{} {} {} model-annotate pdbx 1 {} archive ?\n",
                i + 1,
                quoted(&m.id),
                m.says,
                i % 3 + 1
            ));
        }
        s.push_str("# \nloop_\n");
        for a in [
            "message_id",
            "deposition_data_set_id",
            "read_status",
            "action_reqd",
            "for_release",
        ] {
            s.push_str(&format!("_pdbx_deposition_message_status.{a} \n"));
        }
        for m in msgs {
            s.push_str(&format!("{} {} Y N N\n", quoted(&m.id), m.says));
        }
    }
    s.push_str("# \n");
    let name = format!("{folder}_{content_type}_P1.cif.V{version}");
    std::fs::write(dir.join(name), s).unwrap();
}

/// The depositions every contested-id test uses, beside whatever else `archive` holds:
/// - `D_5000000001`: 60 messages (spans batches of 20);
/// - `D_5000000002`: a first message of `big_text` bytes (refused where the server's packet is
///   smaller), then 40 small ones;
/// - `D_5000000003`/`…04`: one id in both, each naming itself: `…03` owns it;
/// - `D_5000000005`/`…06`: `Shared-Case-Id` and `shared-case-id ` (one id for the collation),
///   each naming itself: `…05` owns it, spelt its way;
/// - `D_5000000007`/`…08`: one id in both, both naming `D_5000000008`: `…08` owns it;
/// - `D_5000000009`: an unterminated text field (quarantined by the transformer).
pub fn write_contested(archive: &Path, big_text: usize) {
    let many = |dep: &str, n: usize| -> Vec<Msg> {
        (0..n)
            .map(|i| Msg::new(&format!("{dep}-m{i:03}"), dep, &format!("Message {i}")))
            .collect()
    };
    write_file(
        archive,
        "D_5000000001",
        "messages-to-depositor",
        1,
        &many("D_5000000001", 60),
    );
    let mut refused = vec![Msg {
        text: "x".repeat(big_text),
        ..Msg::new("D_5000000002-big", "D_5000000002", "Pasted report")
    }];
    refused.extend(many("D_5000000002", 40));
    write_file(
        archive,
        "D_5000000002",
        "messages-to-depositor",
        1,
        &refused,
    );
    for (dep, subject) in [("D_5000000003", "Owner's"), ("D_5000000004", "Copy's")] {
        let mut msgs = many(dep, 2);
        msgs.push(Msg::new("contested-0001", dep, subject));
        write_file(archive, dep, "messages-to-depositor", 1, &msgs);
    }
    for (dep, id) in [
        ("D_5000000005", "Shared-Case-Id"),
        ("D_5000000006", "shared-case-id "),
    ] {
        let mut msgs = many(dep, 2);
        msgs.push(Msg::new(id, dep, &format!("{dep}'s spelling")));
        write_file(archive, dep, "messages-to-depositor", 1, &msgs);
    }
    for dep in ["D_5000000007", "D_5000000008"] {
        let mut msgs = many(dep, 1);
        msgs.push(Msg::new(
            "named-0001",
            "D_5000000008",
            &format!("From {dep}"),
        ));
        write_file(archive, dep, "notes-from-annotator", 1, &msgs);
    }
    let dir = archive.join("D_5000000009");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("D_5000000009_messages-to-depositor_P1.cif.V1"),
        "data_messages\n_pdbx_deposition_message_info.message_id x\n_pdbx_deposition_message_info.message_text\n;never closed\n",
    )
    .unwrap();
}

/// Depositions for the text rules, checked through the OneDep application's readers:
/// - `D_8000000001` (legacy files, with `#` lines): raw UTF-8 (BMP and astral) in subject and
///   text, a literal backslash-u text (kept as written), quotes and tabs, two messages with the
///   same timestamp (their file order must hold), and file references of three messages
///   interleaved in the file;
/// - `D_8000000002`: a file as the application's database dump writes it (gemmi's layout, no
///   `#` line), its non-ASCII as `\uXXXX` escapes (decoded as the application's migrator does).
pub fn write_encodings(archive: &Path) {
    let dep = "D_8000000001";
    let mut msgs = vec![
        Msg {
            text: "Dear Depositors,\n\tÅngström café 🧬 naïve\n\"quoted\" and 'single'".into(),
            ..Msg::new("enc-0001", dep, "Müller's \"report\"")
        },
        Msg {
            text: "A path C:\\users\\u0041dmin and \\u00e9 written by hand stay as they are."
                .into(),
            ..Msg::new("enc-0002", dep, "Backslash-u text")
        },
        Msg::new("enc-0003", dep, "Same second, written first"),
        Msg::new("enc-0004", dep, "Same second, written second"),
    ];
    for m in &mut msgs[2..] {
        m.timestamp = "2024-03-02 09:00:00".into();
    }
    write_file(archive, dep, "messages-to-depositor", 1, &msgs);
    // References of three messages, interleaved (the file's order is what the application lists).
    let path = archive
        .join(dep)
        .join(format!("{dep}_messages-to-depositor_P1.cif.V1"));
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text
        .find("loop_\n_pdbx_deposition_message_file_reference.ordinal_id")
        .unwrap();
    let end = text[start..].find("# \n").unwrap() + start;
    let mut refs = String::from("loop_\n");
    for a in [
        "ordinal_id",
        "message_id",
        "deposition_data_set_id",
        "content_type",
        "content_format",
        "partition_number",
        "version_id",
        "storage_type",
        "upload_file_name",
    ] {
        refs.push_str(&format!("_pdbx_deposition_message_file_reference.{a} \n"));
    }
    for (i, (id, ct, format, version)) in [
        ("enc-0003", "validation-report-annotate", "pdf", 2),
        ("enc-0001", "model-annotate", "pdbx", 1),
        ("enc-0003", "model-annotate", "pdbx", 2),
        ("enc-0001", "structure-factors-annotate", "pdbx", 1),
        ("enc-0004", "auxiliary-file-annotate", "txt", 1),
        ("enc-0001", "model-annotate", "pdb", 1),
    ]
    .iter()
    .enumerate()
    {
        let upload = if *ct == "auxiliary-file-annotate" {
            "'notes café.txt'"
        } else {
            "?"
        };
        refs.push_str(&format!(
            "{} {id} {dep} {ct} {format} 1 {version} archive {upload}\n",
            i + 1
        ));
    }
    let text = format!("{}{}{}", &text[..start], refs, &text[end..]);
    std::fs::write(&path, text).unwrap();

    let dep = "D_8000000002";
    let dir = archive.join(dep);
    std::fs::create_dir_all(&dir).unwrap();
    let dump = format!(
        "data_messages\n\n\
         loop_\n\
         _pdbx_deposition_message_info.ordinal_id\n\
         _pdbx_deposition_message_info.message_id\n\
         _pdbx_deposition_message_info.deposition_data_set_id\n\
         _pdbx_deposition_message_info.timestamp\n\
         _pdbx_deposition_message_info.sender\n\
         _pdbx_deposition_message_info.context_type\n\
         _pdbx_deposition_message_info.context_value\n\
         _pdbx_deposition_message_info.parent_message_id\n\
         _pdbx_deposition_message_info.message_subject\n\
         _pdbx_deposition_message_info.message_text\n\
         _pdbx_deposition_message_info.message_type\n\
         _pdbx_deposition_message_info.send_status\n\
         17 dump-0001 {dep} '2024-05-01 12:00:00' annotator other . dump-0001 'caf\\u00e9 \\u00c5ngstr\\u00f6m' \n\
         ;Raw before the dump: \\ud83e\\uddec and na\\u00efve.\n\
         ;\n\
         text Y\n\n\
         _pdbx_deposition_message_status.message_id dump-0001\n\
         _pdbx_deposition_message_status.deposition_data_set_id {dep}\n\
         _pdbx_deposition_message_status.read_status Y\n\
         _pdbx_deposition_message_status.action_reqd N\n\
         _pdbx_deposition_message_status.for_release N\n"
    );
    std::fs::write(
        dir.join(format!("{dep}_messages-to-depositor_P1.cif.V2")),
        dump,
    )
    .unwrap();
}
