//! `msgmig db init|status`: the schema lifecycle (versioned migrations).

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
    if !args.verify_only {
        super::create_database_if_missing(&args.database).await?;
    }
    let db = open_database(&args.database).await?;
    if args.verify_only {
        println!(
            "Schema check (tables, columns, types, nullability, defaults, indexes, foreign keys)"
        );
        let drift = super::schema_drift(&db, &args.database).await?;
        if drift.is_empty() {
            println!("  schema matches: every table as msgmig creates it");
            return Ok(EXIT_OK);
        }
        println!("  {} differences", drift.len());
        return Ok(EXIT_INCOMPLETE);
    }
    if args.drop_and_recreate {
        confirm_drop(&args)?;
        tracing::warn!(
            event = "drop_and_recreate",
            "dropping every messaging and msgmig table"
        );
        database::drop_all(&db).await?;
    }
    database::init(&db).await?;
    tracing::info!(event = "tables_created");
    print_origcomm_layout(&db).await?;
    println!("schema ready");
    Ok(EXIT_OK)
}

/// `--drop-and-recreate` destroys every message: `--yes`, or the database's name typed on a
/// terminal.
fn confirm_drop(args: &DbInitArgs) -> Result<()> {
    use std::io::IsTerminal;
    if args.yes {
        return Ok(());
    }
    let url = crate::config::database_url(&args.database)?;
    let name = url
        .rsplit('/')
        .next()
        .and_then(|n| n.split('?').next())
        .unwrap_or("")
        .to_owned();
    if !std::io::stdin().is_terminal() {
        return Err(super::UsageError(
            "--drop-and-recreate destroys every message in the database: add --yes to confirm"
                .into(),
        )
        .into());
    }
    eprint!(
        "This drops every messaging and msgmig table of {}. Type the database name ({name}) to confirm: ",
        crate::config::redact(&url)
    );
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != name {
        return Err(super::UsageError("not confirmed: nothing dropped".into()).into());
    }
    Ok(())
}

async fn status(args: DbStatusArgs) -> Result<i32> {
    let db = open_database(&args.database).await?;
    let mut pending = 0;
    for (name, applied) in database::migration_status(&db).await? {
        println!("{} {name}", if applied { "applied" } else { "pending" });
        pending += usize::from(!applied);
    }
    let missing = database::missing_tables(&db).await?;
    for table in msgmig_schemas::db::ALL_TABLES {
        println!(
            "{} {table}",
            if missing.contains(&table) {
                "missing"
            } else {
                "present"
            }
        );
    }
    print_origcomm_layout(&db).await?;
    let drift = super::schema_drift(&db, &args.database).await?;
    Ok(if pending == 0 && missing.is_empty() && drift.is_empty() {
        EXIT_OK
    } else {
        EXIT_INCOMPLETE
    })
}

/// Says so when the origcomm table has the upstream branch's layout, which msgmig adopts and
/// writes to as it is; silent for msgmig's own layout.
async fn print_origcomm_layout(db: &sea_orm::DatabaseConnection) -> Result<()> {
    use msgmig_schemas::db::upstream_origcomm::{OrigcommLayout, TABLE};
    let layout = msgmig_loader::limits::origcomm_layout(db).await?;
    if layout == OrigcommLayout::Upstream {
        println!(
            "{TABLE} has {}: msgmig writes to it as it is, and refuses (quarantines) what it cannot hold exactly",
            layout.describe()
        );
    }
    Ok(())
}
