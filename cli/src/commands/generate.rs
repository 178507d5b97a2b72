//! `msgmig generate`: a deterministic synthetic archive of any size.

use super::{UsageError, EXIT_OK};
use crate::cli::GenerateArgs;
use anyhow::{Context, Result};

pub fn run(args: GenerateArgs) -> Result<i32> {
    if args.output.exists() && std::fs::read_dir(&args.output)?.next().is_some() {
        return Err(UsageError(format!(
            "--output {} exists and is not empty",
            args.output.display()
        ))
        .into());
    }
    let bar = super::progress_bar(u64::from(args.depositions), "depositions written");
    let stats =
        crate::generate::write_archive(&args.output, args.depositions, args.seed, || bar.inc(1))
            .with_context(|| format!("writing {}", args.output.display()))?;
    bar.finish_and_clear();
    println!(
        "wrote {} depositions, {} files, {} messages, {} file references, {} statuses to {}",
        stats.depositions,
        stats.files,
        stats.messages,
        stats.file_refs,
        stats.statuses,
        args.output.display()
    );
    Ok(EXIT_OK)
}
