//! Flags of the Kafka workers (`scan`, `transform`, `load`) and of `replay` and `status`.

use crate::args::DatabaseArgs;
use clap::Args;
use std::path::PathBuf;

/// Where Kafka is and how msgmig names and creates its topics.
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[arg(long, env = "MSGMIG_KAFKA_BROKERS", value_name = "HOST:PORT,…")]
    pub kafka_brokers: String,
    /// Prefix of the topic names (`<prefix>file-events`, `<prefix>records`,
    /// `<prefix>dead-letter`).
    #[arg(long, env = "MSGMIG_TOPIC_PREFIX", default_value = "msgmig.")]
    pub topic_prefix: String,
    /// Partitions of topics msgmig creates (existing topics keep theirs). The upper bound on
    /// useful transformer and loader processes per group.
    #[arg(long, default_value_t = 6)]
    pub partitions: i32,
    /// Replication factor of topics msgmig creates.
    #[arg(long, default_value_t = 1)]
    pub replication_factor: i32,
    /// Any librdkafka property, e.g. `security.protocol=SASL_SSL`, `sasl.password=…`
    /// (repeatable; values of secret properties are never logged).
    #[arg(long = "kafka-config", value_name = "KEY=VALUE", value_parser = parse_property)]
    pub kafka_config: Vec<(String, String)>,
    /// A file of librdkafka properties, one `key=value` per line (`#` starts a comment), read
    /// before `--kafka-config` (which wins): keeps secrets such as `sasl.password` off the
    /// command line, out of `ps` and the environment (e.g. a Docker secret).
    #[arg(long, env = "MSGMIG_KAFKA_CONFIG_FILE", value_name = "FILE")]
    pub kafka_config_file: Option<PathBuf>,
}

fn parse_property(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))?;
    if k.trim().is_empty() {
        return Err("empty property name".into());
    }
    Ok((k.trim().to_owned(), v.to_owned()))
}

impl KafkaArgs {
    /// The Kafka settings: properties of `--kafka-config-file`, then of `--kafka-config`.
    /// Errors: the file cannot be read or has a line that is not `key=value` (the message names
    /// the file and line, never a value).
    pub fn config(&self) -> anyhow::Result<msgmig_bus::kafka::KafkaConfig> {
        let mut properties = Vec::new();
        if let Some(path) = &self.kafka_config_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("cannot read --kafka-config-file {}: {e}", path.display())
            })?;
            properties = parse_properties_file(&text).map_err(|line| {
                anyhow::anyhow!(
                    "--kafka-config-file {} line {line}: expected key=value",
                    path.display()
                )
            })?;
        }
        properties.extend(self.kafka_config.iter().cloned());
        Ok(msgmig_bus::kafka::KafkaConfig {
            brokers: self.kafka_brokers.clone(),
            topic_prefix: self.topic_prefix.clone(),
            partitions: self.partitions,
            replication_factor: self.replication_factor,
            properties,
        })
    }
}

/// `key=value` lines; blank lines and lines starting with `#` are skipped. Errors with the
/// 1-based number of the first malformed line.
fn parse_properties_file(text: &str) -> Result<Vec<(String, String)>, usize> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_property(line).map_err(|_| i + 1)?);
    }
    Ok(out)
}

/// Shutdown and health settings every worker shares.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Serve /metrics, /healthz and /readyz here (port 0 picks a free port, logged at start).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Seconds to finish in-flight work after SIGTERM/SIGINT before exiting anyway (unfinished
    /// work is redone by the next owner: nothing is lost).
    #[arg(long, default_value_t = 30)]
    pub grace_secs: u64,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Archive root: the folder holding the `D_…`/`G_…` deposition folders.
    #[arg(long, value_name = "DIR", env = "MSGMIG_ARCHIVE_DIR")]
    pub directory: PathBuf,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// One pass over the archive, then exit (a backfill). Without it: walk, then watch.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub watch: crate::args::WatchArgs,
    /// Optional: where to record each full pass's deposition count (`msgmig_scan_passes`).
    /// Without a database URL (flag, file, or `SITE_MESSAGE_DB_*`) nothing is recorded.
    #[command(flatten)]
    pub database: crate::args::DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct TransformArgs {
    /// Archive root the transformer reads files from (file events name paths under it).
    #[arg(long, value_name = "DIR", env = "MSGMIG_ARCHIVE_DIR")]
    pub directory: PathBuf,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Consumer group: processes with the same id share the partitions.
    #[arg(long, default_value = "msgmig-transformer")]
    pub group_id: String,
    /// Depositions parsed at once (default: number of CPUs).
    #[arg(long)]
    pub parallelism: Option<usize>,
    /// Quiet period (ms) per deposition: a burst of events becomes one transformation. A
    /// deposition whose events all arrived as the scanner published them together (one listing
    /// of its folder, after the scanner let it settle) is transformed without waiting for it.
    #[arg(long, default_value_t = 500)]
    pub debounce_ms: u64,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Consumer group: processes with the same id share the partitions; the database stores
    /// this group's offsets.
    #[arg(long, default_value = "msgmig-loader")]
    pub group_id: String,
    /// Messages per database transaction (a transaction also closes at 32 MiB of message
    /// text). Bigger batches write each index in longer sorted runs, which matters once the
    /// tables outgrow the buffer pool.
    #[arg(long, default_value_t = msgmig_loader::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    #[command(flatten)]
    pub throttle: crate::args::ThrottleArgs,
    /// Delete file references the files no longer have (default: report them only).
    #[arg(long)]
    pub reconcile: bool,
    /// Do not create missing tables at start (by default the loader does, so that it can
    /// rebuild an empty or dropped database from the records topic by itself).
    #[arg(long)]
    pub no_create_tables: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("from").required(true).args(["from_beginning", "since"])))]
pub struct ReplayArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// The loaders' consumer group.
    #[arg(long, default_value = "msgmig-loader")]
    pub group_id: String,
    /// Re-apply the whole records topic.
    #[arg(long)]
    pub from_beginning: bool,
    /// Re-apply what was published at or after TIME: RFC 3339 (`2026-11-23T10:00:00Z`),
    /// `YYYY-MM-DD HH:MM:SS` (UTC) or Unix seconds. A time after the last record replays nothing.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Show per partition what would be re-applied; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// The transformers' consumer group.
    #[arg(long, default_value = "msgmig-transformer")]
    pub transformer_group: String,
    /// The loaders' consumer group.
    #[arg(long, default_value = "msgmig-loader")]
    pub loader_group: String,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_properties_file_gives_pairs_and_names_a_bad_line() {
        let ok = "# SASL\nsecurity.protocol=SASL_SSL\n\nsasl.password = p=w\n";
        assert_eq!(
            parse_properties_file(ok).unwrap(),
            vec![
                ("security.protocol".into(), "SASL_SSL".into()),
                ("sasl.password".into(), " p=w".into())
            ]
        );
        assert_eq!(parse_properties_file("a=1\nnot a property\n"), Err(2));
    }
}
