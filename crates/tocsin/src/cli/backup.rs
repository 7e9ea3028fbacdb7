//! `tocsin backup` and `tocsin restore`: a consistent copy of the SQLite
//! store while the server runs, and putting one back.

use crate::store::sqlite::backup::{self, CopyError, StoreSummary};
use std::path::PathBuf;
use std::time::Instant;

/// Where the store is: `--data`, else the config's `server.data_dir`, else
/// the embedded default (what `tocsin serve` would use).
#[derive(clap::Args, Debug)]
pub struct StoreArgs {
    /// The server's data directory (default: server.data_dir of --config, else ./tocsin-data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The server's YAML config file, to read server.data_dir from.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

const BACKUP_EXIT: &str = "\
Exit codes: 0 the copy is written and passed its integrity check; 1 refused, \
nothing written (FILE exists without --force, no store in the data directory, \
not a Tocsin store, a config error); 2 the copy failed (I/O, integrity check \
of the copy), FILE not written.";

const RESTORE_EXIT: &str = "\
Exit codes: 0 restored; 1 refused, the data directory unchanged (a server or \
another tocsin command has the store open, the directory already holds a store \
and no --force, FILE is not a Tocsin store of a schema this build reads, or \
fails its integrity check, a config error); 2 the copy failed (I/O), the data \
directory unchanged.";

#[derive(clap::Args, Debug)]
#[command(after_help = BACKUP_EXIT)]
pub struct BackupArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The backup file to write (through FILE.tmp, renamed when complete and checked).
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    /// Replace FILE when it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::Args, Debug)]
#[command(after_help = RESTORE_EXIT)]
pub struct RestoreArgs {
    /// The backup file made by tocsin backup.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// When the data directory already holds a store: move it aside as
    /// tocsin.db.before-restore-<time> and restore.
    #[arg(long)]
    pub force: bool,
}

/// The data directory, or the exit code after printing why there is none.
fn data_dir(command: &str, args: &StoreArgs) -> Result<PathBuf, i32> {
    if let Some(d) = &args.data {
        return Ok(d.clone());
    }
    match &args.config {
        None => Ok(crate::config::Config::embedded_default().server.data_dir),
        Some(path) => {
            let loaded = crate::config::load_file(path, &crate::config::process_env);
            match loaded.config {
                Some(c) => Ok(c.server.data_dir),
                None => {
                    for d in loaded.diagnostics.iter().filter(|d| !d.warning) {
                        eprintln!("{d}");
                    }
                    eprintln!(
                        "tocsin {command}: --config {}: has errors; fix them or name the directory with --data",
                        path.display()
                    );
                    Err(1)
                }
            }
        }
    }
}

/// `1.2 MiB`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `1234 events, 2345 messages, 2400 attempts, schema 8, 1.2 MiB, 0.31 s`.
pub(crate) fn summary_line(s: &StoreSummary, started: Instant) -> String {
    format!(
        "{} events, {} messages, {} attempts, schema {}, {}, {:.2} s",
        s.events,
        s.messages,
        s.attempts,
        s.schema,
        size(s.bytes),
        started.elapsed().as_secs_f64()
    )
}

fn exit_code(command: &str, e: &CopyError) -> i32 {
    eprintln!("tocsin {command}: {e}");
    match e {
        CopyError::Refused(_) => 1,
        CopyError::Failed(_) => 2,
    }
}

pub async fn run_backup(args: BackupArgs) -> i32 {
    let dir = match data_dir("backup", &args.store) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let started = Instant::now();
    let (to, force) = (args.to.clone(), args.force);
    let src = dir.clone();
    let done = tokio::task::spawn_blocking(move || backup::backup(&src, &to, force)).await;
    match done {
        Ok(Ok(s)) => {
            println!(
                "tocsin backup: {} -> {}: {} (integrity check ok)",
                dir.join("tocsin.db").display(),
                args.to.display(),
                summary_line(&s, started)
            );
            0
        }
        Ok(Err(e)) => exit_code("backup", &e),
        Err(e) => {
            eprintln!("tocsin backup: the copy stopped: {e}");
            2
        }
    }
}

/// `20261203T130501Z`: the name of a store moved aside.
fn stamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

pub async fn run_restore(args: RestoreArgs) -> i32 {
    let dir = match data_dir("restore", &args.store) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let started = Instant::now();
    let (from, force, target) = (args.from.clone(), args.force, dir.clone());
    let stamp = stamp();
    let done =
        tokio::task::spawn_blocking(move || backup::restore(&from, &target, force, &stamp)).await;
    match done {
        Ok(Ok(r)) => {
            println!(
                "tocsin restore: {} -> {}: {} (integrity check ok)",
                args.from.display(),
                dir.join("tocsin.db").display(),
                summary_line(&r.summary, started)
            );
            if let Some(aside) = r.moved_aside {
                println!(
                    "tocsin restore: the previous store is at {}",
                    aside.display()
                );
            }
            0
        }
        Ok(Err(e)) => exit_code("restore", &e),
        Err(e) => {
            eprintln!("tocsin restore: the copy stopped: {e}");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_the_config_units() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(5 * 1024 * 1024), "5.0 MiB");
    }
}
