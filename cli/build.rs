//! Build identity for `msgmig --version` and the `msgmig_build_info` metric: the git revision
//! (with `-dirty` for uncommitted changes when it was computed) and the build date, in UTC.
//! Outside a git checkout (a source tarball) the revision is `unknown`. Recomputed only when the
//! revision changes, so a fresh clone compiles the crate once.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    // Without optional locks `git status` does not refresh (rewrite) the index: a build that
    // touched a file it watches would build again.
    let out = Command::new("git")
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    let revision = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    println!(
        "cargo:rustc-env=MSGMIG_GIT_REVISION={revision}{}",
        if dirty { "-dirty" } else { "" }
    );
    println!("cargo:rustc-env=MSGMIG_BUILD_DATE={date}");
    // Rebuild the identity when the revision moves (not on every source edit, nor when the index
    // changes): a commit rewrites the branch's ref file, not HEAD itself, so both are watched,
    // by their absolute paths (a relative `../.git` is not where a build script runs).
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let branch = git(&["symbolic-ref", "-q", "HEAD"]);
        let watched = ["HEAD", "packed-refs"]
            .into_iter()
            .map(str::to_owned)
            .chain(branch);
        for file in watched {
            let path = std::path::Path::new(&git_dir).join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
