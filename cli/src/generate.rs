//! Synthetic archives shaped like the real one: per deposition a
//! messages-to-depositor file (loop form, attachments, the status rows of every message), often
//! a messages-from-depositor file with replies (cross-file parents), sometimes notes with
//! origcomm rows, older versions and decoy files beside the latest ones. Deterministic per seed.

use msgmig_schemas::archive::{ContentType, MessageFileName};
use msgmig_schemas::cif::Value;
use msgmig_schemas::message::{FileRefRow, InfoRow, MessageFile, OrigcommRow, StatusRow};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// What was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct GeneratedStats {
    pub depositions: u64,
    pub files: u64,
    pub messages: u64,
    pub file_refs: u64,
    pub statuses: u64,
}

const SUBJECTS: [&str; 5] = [
    "PDB ID XXXX - Validation report and processed files are ready for your review",
    "Re-upload files",
    "Still awaiting feedback for D_XXXX",
    "RE: Release request",
    "Caf&#233; question about entity 2",
];
const SENDERS: [&str; 5] = [
    "CS",
    "EP",
    "auto",
    "noreply@mail.wwpdb.org",
    "depositor - Cat, Thomas (responsible scientist)",
];
const CONTEXTS: [&str; 5] = ["vldtn", "approval-impl", "release-publ", "reminder", "?"];
const ATTACHMENTS: [(&str, &str); 4] = [
    ("model-annotate", "pdbx"),
    ("validation-report-annotate", "pdf"),
    ("validation-data-annotate", "xml"),
    ("structure-factors-annotate", "pdbx"),
];

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let b: [u8; 16] = rng.random();
    let h = hex::encode(b);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn text(rng: &mut ChaCha8Rng, dep: &str) -> String {
    let lines = rng.random_range(3..40);
    let mut out = format!("Dear Depositors,\n\nThank you for depositing {dep} with the wwPDB. \n");
    for i in 0..lines {
        match rng.random_range(0..6) {
            0 => out.push('\n'),
            1 => out.push_str(&format!("\tTo:\tannotator {i}  \n")),
            2 => out.push_str("See http://twitter.com/#!/buildmodels and 'quoted' \"text\".\n"),
            3 => out.push_str("M&#252;ller &#197;ngstr&#246;m =20 soft break=\n"),
            _ => out.push_str(
                &"Please review the processed files and the validation report. "
                    .repeat(rng.random_range(1..4)),
            ),
        }
    }
    if rng.random_bool(0.5) {
        out.push_str("\nCheers, ");
    }
    out
}

fn info(
    rng: &mut ChaCha8Rng,
    dep: &str,
    ordinal: usize,
    id: &str,
    parent: &str,
    sender: &str,
) -> InfoRow {
    let day = rng.random_range(1..28);
    let secs = rng.random_range(0..86_400);
    InfoRow {
        ordinal_id: Value::text(ordinal.to_string()),
        message_id: Value::text(id),
        deposition_data_set_id: Value::text(dep),
        timestamp: Value::text(format!(
            "2023-{:02}-{day:02} {:02}:{:02}:{:02}",
            rng.random_range(1..13),
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )),
        sender: Value::text(sender),
        context_type: Value::text(CONTEXTS[rng.random_range(0..CONTEXTS.len())]),
        context_value: Value::Unknown,
        parent_message_id: Value::text(parent),
        message_subject: Value::text(SUBJECTS[rng.random_range(0..SUBJECTS.len())]),
        message_text: Value::text(text(rng, dep)),
        message_type: Value::text("text"),
        send_status: Value::text(if rng.random_bool(0.9) { "Y" } else { "N" }),
    }
}

fn flag(rng: &mut ChaCha8Rng) -> Value {
    Value::text(if rng.random_bool(0.5) { "Y" } else { "N" })
}

/// Writes one deposition folder; returns what it holds (latest versions only).
fn write_deposition(
    root: &Path,
    dep: &str,
    rng: &mut ChaCha8Rng,
) -> std::io::Result<GeneratedStats> {
    let dir = root.join(dep);
    std::fs::create_dir_all(&dir)?;
    let mut stats = GeneratedStats {
        depositions: 1,
        ..Default::default()
    };
    let mut to = MessageFile::default();
    let mut from = MessageFile::default();
    let mut notes = MessageFile::default();
    let n_to = rng.random_range(1..6);
    let mut to_ids = Vec::new();
    for i in 0..n_to {
        let id = uuid(rng);
        let sender = SENDERS[rng.random_range(0..4)];
        to.info.push((0, info(rng, dep, i + 1, &id, &id, sender)));
        for _ in 0..rng.random_range(0..7) {
            let (ct, fmt) = ATTACHMENTS[rng.random_range(0..ATTACHMENTS.len())];
            to.file_refs.push((
                0,
                FileRefRow {
                    ordinal_id: Value::text((to.file_refs.len() + 1).to_string()),
                    message_id: Value::text(&id),
                    deposition_data_set_id: Value::text(dep),
                    content_type: Value::text(ct),
                    content_format: Value::text(fmt),
                    partition_number: Value::text("1"),
                    version_id: Value::text(rng.random_range(1..4).to_string()),
                    storage_type: Value::text("archive"),
                    upload_file_name: Value::Unknown,
                },
            ));
        }
        to_ids.push(id);
    }
    for i in 0..rng.random_range(0..3) {
        let id = uuid(rng);
        let parent = if rng.random_bool(0.5) {
            to_ids[rng.random_range(0..to_ids.len())].clone()
        } else {
            id.clone()
        };
        from.info
            .push((0, info(rng, dep, i + 1, &id, &parent, SENDERS[4])));
    }
    if rng.random_bool(0.3) {
        let id = uuid(rng);
        let mut row = info(rng, dep, 1, &id, &id, "auto");
        row.message_type = Value::text("archive_auto");
        notes.info.push((0, row));
        notes.origcomm.push((
            0,
            OrigcommRow {
                ordinal_id: Value::text("1"),
                message_id: Value::text(&id),
                deposition_data_set_id: Value::text(dep),
                orig_message_id: Value::text(format!("<{}@mail.wwpdb.org>", uuid(rng))),
                orig_deposition_data_set_id: Value::text("None"),
                orig_timestamp: Value::text("2023-11-12 14:53:21"),
                orig_sender: Value::text("depositor@example.org"),
                orig_recipient: Value::text("annotator@wwpdb.org"),
                orig_message_subject: Value::text("Re: your deposition"),
                orig_attachments: Value::Unknown,
            },
        ));
    }
    // Every message's flags live in the to-depositor file.
    let all_ids: Vec<String> = to
        .info
        .iter()
        .chain(&from.info)
        .chain(&notes.info)
        .map(|(_, r)| r.message_id.as_literal().to_owned())
        .collect();
    for id in &all_ids {
        to.statuses.push((
            0,
            StatusRow {
                message_id: Value::text(id),
                deposition_data_set_id: Value::text(dep),
                read_status: flag(rng),
                action_reqd: flag(rng),
                for_release: Value::text("N"),
            },
        ));
    }
    let write = |ct: ContentType, version: u32, file: &MessageFile| -> std::io::Result<()> {
        let body = file.write().map_err(std::io::Error::other)?;
        std::fs::write(dir.join(MessageFileName::canonical(dep, ct, version)), body)
    };
    let latest = rng.random_range(1..4);
    for v in 1..latest {
        // An older, smaller snapshot: must be ignored.
        let mut old = to.clone();
        old.info.truncate(1);
        old.file_refs.clear();
        old.statuses.clear();
        write(ContentType::MessagesToDepositor, v, &old)?;
    }
    write(ContentType::MessagesToDepositor, latest, &to)?;
    std::fs::write(
        dir.join(format!(
            "{}.PREV0",
            MessageFileName::canonical(dep, ContentType::MessagesToDepositor, latest)
        )),
        b"data_messages\n",
    )?;
    stats.files += 1;
    if !from.info.is_empty() {
        write(ContentType::MessagesFromDepositor, 1, &from)?;
        stats.files += 1;
    }
    if !notes.info.is_empty() {
        write(ContentType::NotesFromAnnotator, 1, &notes)?;
        stats.files += 1;
    } else if rng.random_bool(0.2) {
        std::fs::write(
            dir.join(MessageFileName::canonical(
                dep,
                ContentType::NotesFromAnnotator,
                1,
            )),
            b"",
        )?;
        stats.files += 1;
    }
    std::fs::write(dir.join(format!("{dep}_model_P1.cif.V1")), b"data_model\n")?;
    stats.messages = all_ids.len() as u64;
    stats.file_refs = to.file_refs.len() as u64;
    stats.statuses = to.statuses.len() as u64;
    Ok(stats)
}

/// Writes `depositions` folders `D_1000000001…` under `root`; `tick` runs after each.
pub fn write_archive(
    root: &Path,
    depositions: u32,
    seed: u64,
    mut tick: impl FnMut(),
) -> std::io::Result<GeneratedStats> {
    std::fs::create_dir_all(root)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut total = GeneratedStats::default();
    for i in 0..depositions {
        let dep = format!("D_{}", 1_000_000_001u64 + u64::from(i));
        let s = write_deposition(root, &dep, &mut rng)?;
        total.depositions += s.depositions;
        total.files += s.files;
        total.messages += s.messages;
        total.file_refs += s.file_refs;
        total.statuses += s.statuses;
        tick();
    }
    Ok(total)
}
