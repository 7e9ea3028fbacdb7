//! Build metadata for `tocsin --version`: the commit and its date.
//!
//! The commit comes from `git rev-parse --short HEAD` when this is a git
//! checkout, else `TOCSIN_COMMIT` from the environment (packagers building
//! from a tarball), else "unknown". The date is `SOURCE_DATE_EPOCH` when set
//! (the reproducible-builds convention), else the commit's own date: never
//! the clock at build time, so one commit always builds the same binary.
//! The script reruns only when HEAD moves (the HEAD file, the branch's ref
//! file, packed-refs) or those variables change.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The file git keeps `name` in (HEAD, refs/heads/x, packed-refs), absolute.
fn git_path(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(git(&["rev-parse", "--git-path", name])?);
    let p = if p.is_relative() {
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").ok()?).join(p)
    } else {
        p
    };
    p.exists().then_some(p)
}

/// Days since 1970-01-01 as a civil date (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TOCSIN_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    for name in ["HEAD", "packed-refs"] {
        if let Some(p) = git_path(name) {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    if let Some(r) = git(&["rev-parse", "--symbolic-full-name", "HEAD"])
        .filter(|r| r.starts_with("refs/"))
        .and_then(|r| git_path(&r))
    {
        println!("cargo:rerun-if-changed={}", r.display());
    }
    let commit = git(&["rev-parse", "--short", "HEAD"])
        .or_else(|| {
            std::env::var("TOCSIN_COMMIT")
                .ok()
                .filter(|c| !c.is_empty())
        })
        .unwrap_or_else(|| "unknown".into());
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .or_else(|| git(&["show", "-s", "--format=%ct", "HEAD"]))
        .and_then(|s| s.trim().parse::<i64>().ok());
    let date = match epoch {
        Some(secs) => {
            let (y, m, d) = civil(secs.div_euclid(86_400));
            format!("{y:04}-{m:02}-{d:02}")
        }
        None => "unknown".into(),
    };
    println!("cargo:rustc-env=TOCSIN_COMMIT={commit}");
    println!("cargo:rustc-env=TOCSIN_BUILD_DATE={date}");
}
