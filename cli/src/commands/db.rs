//! `msgmig db init|status`: the schema lifecycle (versioned migrations, domain.md §5.1).

use super::{open_database, EXIT_INCOMPLETE, EXIT_OK};
use crate::cli::{DbCommand, DbInitArgs, DbStatusArgs};
use anyhow::Result;
use msgmig_loader::database;

pub async fn run(cmd: DbCommand) -> Result<i32> {
    match cmd {
        DbCommand::Init(args) => init(args).await,
        DbCommand::Status(args) => status(args).await,
    }
}

async fn init(args: DbInitArgs) -> Result<i32> {
    let db = open_database(&args.database).await?;
    if args.verify_only {
        let missing = database::missing_tables(&db).await?;
        if missing.is_empty() {
            println!("schema complete: every table exists");
            return Ok(EXIT_OK);
        }
        println!("missing tables: {}", missing.join(", "));
        return Ok(EXIT_INCOMPLETE);
    }
    if args.drop_and_recreate {
        tracing::warn!(
            event = "drop_and_recreate",
            "dropping every messaging and msgmig table"
        );
        database::drop_all(&db).await?;
    }
    database::init(&db).await?;
    tracing::info!(event = "tables_created");
    println!("schema ready");
    Ok(EXIT_OK)
}

async fn status(args: DbStatusArgs) -> Result<i32> {
    let db = open_database(&args.database).await?;
    let mut pending = 0;
    for (name, applied) in database::migration_status(&db).await? {
        println!("{} {name}", if applied { "applied" } else { "pending" });
        pending += usize::from(!applied);
    }
    let missing = database::missing_tables(&db).await?;
    if !missing.is_empty() {
        println!("missing tables: {}", missing.join(", "));
    }
    Ok(if pending == 0 && missing.is_empty() {
        EXIT_OK
    } else {
        EXIT_INCOMPLETE
    })
}
