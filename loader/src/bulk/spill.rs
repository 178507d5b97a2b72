//! Step 1 and 2 of a bulk load: the records stream spilled to one file per table, and the
//! depositions left to the ordinary loader decided.

use crate::batch::refusal;
use msgmig_schemas::db::collation::message_key;
use msgmig_schemas::db::upstream_origcomm::OrigcommLayout;
use msgmig_schemas::record::{
    DepositionEnd, DepositionOutcome, FileRefColumns, MessageColumns, MessageRecord,
    OrigcommColumns, Provenance, RecordsMessage, StatusColumns,
};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A provenance row before its values: what [`crate::columns::provenance_row`] takes.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ProvenanceLine {
    pub message_id: String,
    pub deposition_id: String,
    pub provenance: Provenance,
    pub sha256: String,
    /// File references, status (0/1) and origcomm rows the record writes (its `counted_as`).
    pub rows: (u32, bool, u32),
}

/// One row of a spill file: the index of its deposition (in the order depositions ended), then
/// the row.
pub(crate) type Line<T> = (u32, T);

/// The spill files, one per table, in the order [`super::write`] loads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpillFile {
    Provenance,
    Info,
    FileRefs,
    Status,
    Origcomm,
    Ends,
}

impl SpillFile {
    pub(crate) const ALL: [SpillFile; 6] = [
        SpillFile::Provenance,
        SpillFile::Info,
        SpillFile::FileRefs,
        SpillFile::Status,
        SpillFile::Origcomm,
        SpillFile::Ends,
    ];

    fn name(self) -> &'static str {
        match self {
            SpillFile::Provenance => "provenance.jsonl",
            SpillFile::Info => "info.jsonl",
            SpillFile::FileRefs => "file_refs.jsonl",
            SpillFile::Status => "status.jsonl",
            SpillFile::Origcomm => "origcomm.jsonl",
            SpillFile::Ends => "ends.jsonl",
        }
    }
}

/// Reads the records stream of a first backfill (payloads in bus order) into spill files under
/// a temporary folder. Memory: the records of depositions still open (their end marker not
/// yet read), one 8-byte hash per message id, and one bit per deposition.
#[derive(Debug)]
pub struct Spill {
    dir: tempfile::TempDir,
    writers: Vec<BufWriter<File>>,
    open: HashMap<(String, i64), Vec<MessageRecord>>,
    /// One per message id of every deposition with records: [`id_hash`].
    hashes: Vec<u64>,
    /// Per deposition index: its message ids' hashes are `hashes[starts[d]..starts[d + 1]]`.
    starts: Vec<u64>,
    /// Per deposition index, whether it goes to the ordinary loader (one bit each).
    residual: Vec<u64>,
    /// Deposition folders by index, on disk (`ids.jsonl`): read back once, for the residual.
    ids: BufWriter<File>,
    packet_limit: usize,
    layout: OrigcommLayout,
    keyed: bool,
}

/// The result of [`Spill::finish`]: the spill files and which depositions they load.
#[derive(Debug)]
pub struct Spilled {
    pub(crate) dir: tempfile::TempDir,
    /// One bit per deposition index: set = left to the ordinary loader.
    pub(crate) residual_bits: std::sync::Arc<Vec<u64>>,
    /// The residual deposition folders, sorted.
    pub residual: Vec<String>,
    /// Depositions the spill files load.
    pub depositions: u64,
    /// Bytes of the spill files on disk.
    pub bytes: u64,
    pub(crate) keyed: bool,
    /// The server's `max_allowed_packet` (bytes).
    pub(crate) packet_limit: usize,
}

/// Spill folders are named `msgmig-bulk.<pid>.<random>`.
const SPILL_PREFIX: &str = "msgmig-bulk.";

/// Removes the spill folders in `parent` of processes that no longer run (a bulk run killed
/// before its folder was removed). Linux: a process runs while `/proc/<pid>` exists.
fn remove_abandoned(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SPILL_PREFIX))
            .and_then(|rest| rest.split('.').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if cfg!(target_os = "linux") && !Path::new(&format!("/proc/{pid}")).exists() {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::info!(event = "bulk_spill_removed", path = %entry.path().display(),
                    "removed the spill files of a bulk run that stopped")
                }
                Err(e) => {
                    tracing::warn!(event = "bulk_spill_not_removed", path = %entry.path().display(), error = %e)
                }
            }
        }
    }
}

/// The 64-bit hash of a message id as the collation compares it ([`message_key`]): equal ids
/// hash equal, so two claims of one id are always found; two different ids hashing equal
/// (about 1 in 10^6 at 10^6 depositions) only send their depositions the ordinary way.
fn id_hash(id: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    message_key(id).hash(&mut h);
    h.finish()
}

fn set_bit(bits: &mut Vec<u64>, i: u32) {
    let (word, bit) = ((i / 64) as usize, i % 64);
    if bits.len() <= word {
        bits.resize(word + 1, 0);
    }
    bits[word] |= 1 << bit;
}

pub(crate) fn bit(bits: &[u64], i: u32) -> bool {
    bits.get((i / 64) as usize)
        .is_some_and(|w| w & (1 << (i % 64)) != 0)
}

impl Spill {
    /// A spill under a new temporary folder in `parent` (removed when the result is dropped).
    /// `packet_limit` and `layout` are the server's ([`crate::limits`]): a record the server
    /// would refuse sends its deposition to the ordinary loader, which quarantines it. `keyed`:
    /// the provenance's `message_key` column is filled (SQLite).
    pub fn new(
        parent: &Path,
        packet_limit: usize,
        layout: OrigcommLayout,
        keyed: bool,
    ) -> io::Result<Self> {
        crate::sql::fit_statements_to_packet(packet_limit);
        remove_abandoned(parent);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{SPILL_PREFIX}{}.", std::process::id()))
            .tempdir_in(parent)?;
        let writers = SpillFile::ALL
            .iter()
            .map(|f| {
                Ok(BufWriter::with_capacity(
                    1 << 20,
                    File::create(dir.path().join(f.name()))?,
                ))
            })
            .collect::<io::Result<_>>()?;
        let ids = BufWriter::new(File::create(dir.path().join("ids.jsonl"))?);
        Ok(Spill {
            dir,
            writers,
            open: HashMap::new(),
            hashes: Vec::new(),
            starts: vec![0],
            residual: Vec::new(),
            ids,
            packet_limit,
            layout,
            keyed,
        })
    }

    /// Takes the next payload of the stream.
    pub fn add(&mut self, payload: RecordsMessage) -> io::Result<()> {
        match payload {
            RecordsMessage::Message(r) => {
                let key = (r.deposition_id.clone(), r.provenance.generation);
                self.open.entry(key).or_default().push(*r);
                Ok(())
            }
            RecordsMessage::DepositionEnd(end) => {
                let records = self
                    .open
                    .remove(&(end.deposition_id.clone(), end.generation))
                    .unwrap_or_default();
                self.end(end, records)
            }
        }
    }

    fn write<T: Serialize>(&mut self, file: SpillFile, line: &Line<T>) -> io::Result<()> {
        let w = &mut self.writers[file as usize];
        serde_json::to_writer(&mut *w, line)?;
        w.write_all(b"\n")
    }

    /// A deposition ended: its rows spilled, or the deposition marked residual.
    fn end(&mut self, end: DepositionEnd, records: Vec<MessageRecord>) -> io::Result<()> {
        let d = u32::try_from(self.starts.len() - 1).map_err(io::Error::other)?;
        self.hashes
            .extend(records.iter().map(|r| id_hash(&r.message.message_id)));
        self.starts.push(self.hashes.len() as u64);
        serde_json::to_writer(&mut self.ids, &(d, &end.deposition_id))?;
        self.ids.write_all(b"\n")?;
        let residual = !matches!(end.outcome, DepositionOutcome::Transformed)
            || records.len() != end.messages as usize
            || records
                .iter()
                .any(|r| refusal(r, self.packet_limit, self.layout).is_some());
        if residual {
            set_bit(&mut self.residual, d);
            return Ok(());
        }
        for r in &records {
            let line = ProvenanceLine {
                message_id: r.message.message_id.clone(),
                deposition_id: r.deposition_id.clone(),
                provenance: r.provenance.clone(),
                sha256: r.content_sha256(),
                rows: (
                    r.file_refs.len() as u32,
                    r.status.is_some(),
                    r.origcomm.len() as u32,
                ),
            };
            self.write(SpillFile::Provenance, &(d, line))?;
        }
        for r in &records {
            self.write(SpillFile::Info, &(d, &r.message))?;
        }
        // A deposition's references in the order of its files ([`crate::store`] inserts
        // them so).
        let mut refs: Vec<(crate::store::RefPlace<'_>, &str, &FileRefColumns)> = records
            .iter()
            .flat_map(|r| {
                r.file_refs.iter().enumerate().map(move |(i, f)| {
                    (
                        crate::store::ref_place(r, i),
                        r.message.message_id.as_str(),
                        f,
                    )
                })
            })
            .collect();
        refs.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, id, f) in refs {
            self.write(SpillFile::FileRefs, &(d, (id, f)))?;
        }
        for r in &records {
            if let Some(s) = &r.status {
                self.write(SpillFile::Status, &(d, (&r.message.message_id, s)))?;
            }
        }
        for r in &records {
            for o in &r.origcomm {
                self.write(SpillFile::Origcomm, &(d, (&r.message.message_id, o)))?;
            }
        }
        self.write(SpillFile::Ends, &(d, &end))
    }

    /// Ends the stream: every spill file flushed, and the depositions whose message ids are
    /// claimed more than once marked residual. Records of a deposition whose end marker never
    /// came (the stream was cut) are dropped: a deposition without its end is not loaded.
    pub fn finish(mut self) -> io::Result<Spilled> {
        for w in self.writers.iter_mut().chain([&mut self.ids]) {
            w.flush()?;
        }
        drop(self.open);
        // Hashes claimed twice or more, found by sorting a copy (8 bytes per id).
        let mut sorted = self.hashes.clone();
        sorted.sort_unstable();
        let contested: HashSet<u64> = sorted
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        drop(sorted);
        let depositions = self.starts.len() - 1;
        let mut loaded = 0;
        for d in 0..depositions {
            let (from, to) = (self.starts[d] as usize, self.starts[d + 1] as usize);
            let d = d as u32;
            if !bit(&self.residual, d) {
                if self.hashes[from..to].iter().any(|h| contested.contains(h)) {
                    set_bit(&mut self.residual, d);
                } else {
                    loaded += 1;
                }
            }
        }
        let mut residual = Vec::new();
        for line in BufReader::new(File::open(self.dir.path().join("ids.jsonl"))?).lines() {
            let (d, id): (u32, String) = serde_json::from_str(&line?).map_err(io::Error::other)?;
            if bit(&self.residual, d) {
                residual.push(id);
            }
        }
        residual.sort_unstable();
        residual.dedup();
        let mut bytes = 0;
        for entry in std::fs::read_dir(self.dir.path())? {
            bytes += entry?.metadata()?.len();
        }
        Ok(Spilled {
            bytes,
            dir: self.dir,
            residual_bits: std::sync::Arc::new(self.residual),
            residual,
            depositions: loaded,
            keyed: self.keyed,
            packet_limit: self.packet_limit,
        })
    }
}

impl Spilled {
    pub(crate) fn path(&self, file: SpillFile) -> PathBuf {
        self.dir.path().join(file.name())
    }
}

/// Row types read back from the spill files.
pub(crate) type InfoLine = MessageColumns;
pub(crate) type FileRefLine = (String, FileRefColumns);
pub(crate) type StatusLine = (String, StatusColumns);
pub(crate) type OrigcommLine = (String, OrigcommColumns);
pub(crate) type EndLine = DepositionEnd;
