//! # msgmig-transformer
//!
//! Turns a deposition's latest message files into `MessageRecord`s.
//!
//! - [`read`]: re-lists the deposition folder and reads each latest file whole, only when its
//!   size and mtime are the same before and after the read (a torn read is retried).
//! - [`build`]: pure conversion: strict parse, the null, timestamp and length rules of docs/domain.md, file
//!   references, statuses and origcomm attached to their message wherever they were found, and
//!   an FK-safe order (parents first). Any problem in a latest file quarantines the whole
//!   deposition; nothing of it is emitted.
//! - [`worker`]: the bus loop: groups file events per deposition, transforms on blocking threads
//!   with bounded parallelism, emits the deposition's records then a `DepositionEnd` marker.
//!
//! Delivery semantics: a deposition's records are published in order, followed by its marker;
//! transforming twice emits the same records (same content hash), which the loader skips.

pub mod build;
mod columns;
mod convert;
pub mod metrics;
mod order;
mod publish;
pub mod read;
mod run_loop;
mod schedule;
pub mod size;
pub mod validate;
mod warning;
pub mod worker;

pub use build::{build_records, DepositionRecords, Warning};
pub use msgmig_schemas::message::encoding::UnicodeEscapes;

static UNICODE_ESCAPES: std::sync::OnceLock<UnicodeEscapes> = std::sync::OnceLock::new();

/// Sets, once per process, what becomes of `\uXXXX` escapes in message subjects and texts
/// (`--unicode-escapes`; default [`UnicodeEscapes::Auto`]: decoded in files the application's
/// dump wrote). Later calls are ignored.
pub fn set_unicode_escapes(mode: UnicodeEscapes) {
    let _ = UNICODE_ESCAPES.set(mode);
}

/// The process's setting of [`set_unicode_escapes`].
pub fn unicode_escapes() -> UnicodeEscapes {
    UNICODE_ESCAPES.get().copied().unwrap_or_default()
}
pub use read::{read_deposition, SourceFile};
pub use worker::{transform_deposition, TransformStats, Transformer};
