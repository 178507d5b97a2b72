//! The one-shot walk publishes the archive in order whatever `--fs-in-flight` says. Folders are
//! listed in chunks of 256, that many chunks at once; an archive of several chunks, walked with
//! one listing in flight and with many, must give the same events, deposition by deposition in
//! sorted order, each deposition's files in content-type order.
//!
//! This file is its own test binary: the depth is process-wide, and no other test shares it.

use msgmig_bus::in_process::topic;
use msgmig_bus::Subscriber;
use msgmig_scanner::{set_fs_in_flight, Scanner, Selection};
use std::path::Path;

/// 700 depositions (three listing chunks), created in an order unlike their sorted one; every
/// third has a second content type and a newer version beside an older one.
fn archive(root: &Path) -> Vec<String> {
    let mut expected = Vec::new();
    for i in (0..700u32).rev() {
        let dep = format!("D_{:010}", 1_000_000_000 + (i * 7919) % 700);
        let dir = root.join(&dep);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{dep}_messages-to-depositor_P1.cif.V1")),
            "x",
        )
        .unwrap();
        if i % 3 == 0 {
            std::fs::write(
                dir.join(format!("{dep}_notes-from-annotator_P1.cif.V1")),
                "x",
            )
            .unwrap();
            std::fs::write(
                dir.join(format!("{dep}_notes-from-annotator_P1.cif.V2")),
                "xy",
            )
            .unwrap();
        }
    }
    let mut deps: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    deps.sort();
    for dep in &deps {
        expected.push(format!("{dep}/{dep}_messages-to-depositor_P1.cif.V1"));
        if root
            .join(dep)
            .join(format!("{dep}_notes-from-annotator_P1.cif.V2"))
            .exists()
        {
            expected.push(format!("{dep}/{dep}_notes-from-annotator_P1.cif.V2"));
        }
    }
    expected
}

async fn walk(root: &Path) -> Vec<String> {
    let (tx, mut rx) = topic::<msgmig_schemas::record::FileEvent>(16);
    let scanner = Scanner::new(root, Selection::All);
    let collect = tokio::spawn(async move {
        let mut paths = Vec::new();
        while let Some(envelope) = rx.next().await {
            paths.push(envelope.payload.path);
        }
        paths
    });
    scanner.run_once(&tx).await.unwrap();
    drop(tx);
    collect.await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_listing_or_many_in_flight_publish_the_archive_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let expected = archive(dir.path());
    assert!(expected.len() > 700, "every deposition and the notes files");
    for depth in [1, 3, 64] {
        set_fs_in_flight(depth);
        assert_eq!(walk(dir.path()).await, expected, "--fs-in-flight {depth}");
    }
}
