//! What a batch transaction decides and reports, shared by the bus loop (`worker`), the
//! transaction (`apply`) and the isolation of a refused batch (`isolate`): a leaf module.

use crate::item::TopicPartition;
use crate::report::DepositionReport;
use msgmig_bus::Receipt;
use msgmig_schemas::db::upstream_origcomm::OrigcommLayout;
use msgmig_schemas::record::{
    DeadLetter, DeadLetterReason, MessageRecord, Quarantine, QuarantineKind, Stage,
};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait};

/// What a batch transaction did.
#[derive(Debug)]
pub(crate) enum Applied {
    /// Committed (or, in a dry run, planned): the finished depositions.
    Done(Vec<DepositionReport>),
    /// Someone lowered the stored offsets of these partitions since this loader last wrote them
    /// (`msgmig replay`, a restored backup): nothing was written; resume from these offsets.
    Rewound(Vec<(TopicPartition, i64)>),
}

/// Begins a batch transaction. On MySQL in READ COMMITTED: the rows a batch plans against are
/// read with `FOR UPDATE` ([`fetch_current`]), which then sees the latest committed state
/// and locks it, and no gap locks pile up between parallel loaders inserting new ids.
pub(crate) async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DbBackend::MySql => {
            db.begin_with_config(Some(sea_orm::IsolationLevel::ReadCommitted), None)
                .await
        }
        _ => db.begin().await,
    }
}

/// Why `record` cannot be stored, as the quarantine of its deposition: its row is larger
/// than the server takes in one packet, or its origcomm rows do not fit the table's layout.
pub(crate) fn refusal(
    record: &MessageRecord,
    packet_limit: usize,
    layout: OrigcommLayout,
) -> Option<Quarantine> {
    let (kind, reason) = crate::limits::too_large(record, packet_limit)
        .map(|reason| (QuarantineKind::RowTooLarge, reason))
        .or_else(|| {
            crate::limits::unfit_for_origcomm(record, layout)
                .map(|reason| (QuarantineKind::BadValue, reason))
        })?;
    Some(Quarantine {
        kind,
        path: Some(record.provenance.source_path.clone()),
        file_version: Some(record.provenance.file_version),
        line: None,
        column: None,
        message_id: Some(record.message.message_id.clone()),
        reason,
    })
}

/// The dead letter of a deposition state the loader refused.
pub(crate) fn refusal_letter(
    deposition_id: &str,
    generation: i64,
    q: &Quarantine,
    receipt: Option<&Receipt>,
) -> DeadLetter {
    let mut letter = DeadLetter::new(
        Stage::Loader,
        DeadLetterReason::DatabaseRejected,
        format!("{}: {}", q.kind.as_str(), q.reason),
    );
    letter.deposition_id = Some(deposition_id.to_owned());
    letter.generation = Some(generation);
    letter.path = q.path.clone();
    letter.file_version = q.file_version;
    letter.message_id = q.message_id.clone();
    locate(&mut letter, receipt);
    letter
}

/// The error of an injected fault (tests): a dropped connection.
pub(crate) fn injected_outage(what: &str) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::Internal(
        msgmig_bus::failpoint::injected(what),
    ))
}

/// Fills the bus position of a dead letter.
pub(crate) fn locate(letter: &mut DeadLetter, receipt: Option<&Receipt>) {
    if let Some(r) = receipt {
        letter.source_topic = Some(r.topic.clone());
        letter.source_partition = Some(r.partition);
        letter.source_offset = Some(r.offset);
    }
}

/// What the loader needs to know of the database server, read at its first batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerFacts {
    /// The largest packet the server accepts, bytes (`max_allowed_packet`).
    pub packet_limit: usize,
    /// The layout of the origcomm table.
    pub layout: OrigcommLayout,
}
