//! Online backup and restore of the SQLite store (`tocsin backup`, `tocsin restore`).
//!
//! The copy uses SQLite's online backup API in one step: inside one read
//! transaction, so the copy is the store as of one instant. In WAL mode a
//! reader does not block the writer, so a running server keeps committing
//! while the copy is made (its checkpointer cannot shorten the WAL past the
//! copy's snapshot until the copy ends). A copy in several small steps would
//! not do: the backup API restarts from the first page whenever another
//! connection writes between two steps, so under steady ingest it never ends.
//!
//! The data directory's lock file (`tocsin.lock`) tells a restore whether a
//! process has the store open: [`SqliteStore::open`](super::SqliteStore::open)
//! holds a shared lock on it for as long as the store is open, and a restore
//! takes it exclusively for the whole swap.

use super::SCHEMA_VERSION;
use rusqlite::{Connection, OpenFlags};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The data directory's lock file.
pub const LOCK_FILE: &str = "tocsin.lock";

/// Held exclusively by the one server serving a data directory: a second
/// server on the same store would resume the same outbox and send every
/// pending message twice.
pub const SERVE_LOCK_FILE: &str = "tocsin.serve.lock";

/// What a store holds, from a copy or a restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSummary {
    pub events: u64,
    pub messages: u64,
    pub attempts: u64,
    pub schema: i64,
    /// Size of the file, bytes.
    pub bytes: u64,
}

/// Why a backup or restore did not happen. Either way nothing was changed:
/// no partial FILE, the data directory as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyError {
    /// A precondition failed (exit 1): an existing file, a running server,
    /// a file that is not a Tocsin store or fails its integrity check.
    Refused(String),
    /// Reading or writing failed on the way (exit 2).
    Failed(String),
}

impl std::fmt::Display for CopyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyError::Refused(m) | CopyError::Failed(m) => f.write_str(m),
        }
    }
}

/// A lock on a data directory's `tocsin.lock`, released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Why a lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it in a conflicting mode.
    Held,
    /// The lock file cannot be created or locked (read-only directory, a
    /// file system without locks).
    Io(std::io::Error),
}

impl DirLock {
    /// The lock every open store holds: many at once, none during a restore.
    pub fn shared(dir: &Path) -> Result<DirLock, LockError> {
        let file = open_lock(dir)?;
        match file.try_lock_shared() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held),
            Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
        }
    }

    /// The lock a restore holds: only when no store is open in `dir`.
    pub fn exclusive(dir: &Path) -> Result<DirLock, LockError> {
        let file = open_lock(dir)?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held),
            Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
        }
    }
}

fn open_lock(dir: &Path) -> Result<File, LockError> {
    open_lock_file(&dir.join(LOCK_FILE))
}

fn open_lock_file(path: &Path) -> Result<File, LockError> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(LockError::Io)
}

impl DirLock {
    /// The lock a server holds on its data directory for as long as it
    /// runs (`tocsin.serve.lock`, exclusive): one server per store.
    pub fn serving(dir: &Path) -> Result<DirLock, LockError> {
        std::fs::create_dir_all(dir).map_err(LockError::Io)?;
        let file = open_lock_file(&dir.join(SERVE_LOCK_FILE))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held),
            Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
        }
    }
}

/// Checks that the database on `conn` (read from `path`) is a Tocsin store
/// this build can read, passes SQLite's full integrity check, and counts it.
pub fn inspect(conn: &Connection, path: &Path) -> Result<StoreSummary, CopyError> {
    let schema = check_source_kind(conn, path)?;
    let p = path.display();
    let refused = |what: String| CopyError::Refused(format!("{p}: {what}"));
    let mut problems: Vec<String> = Vec::new();
    {
        let mut q = conn
            .prepare("PRAGMA integrity_check(20)")
            .map_err(|e| refused(format!("failed its integrity check: {e}")))?;
        let rows = q
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| refused(format!("failed its integrity check: {e}")))?;
        for row in rows {
            problems.push(row.map_err(|e| refused(format!("failed its integrity check: {e}")))?);
        }
    }
    if problems != ["ok"] {
        return Err(refused(format!(
            "failed its integrity check: {}",
            problems.join("; ")
        )));
    }
    let count = |table: &str| -> Result<u64, CopyError> {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| u64::try_from(n).unwrap_or(0))
        .map_err(|e| refused(format!("cannot count its {table}: {e}")))
    };
    Ok(StoreSummary {
        events: count("events")?,
        messages: count("messages")?,
        attempts: count("attempts")?,
        schema,
        bytes: 0,
    })
}

/// How long a copy waits for a source that is busy (a writer in WAL
/// recovery) before it gives up.
const BUSY: Duration = Duration::from_secs(5);

/// Copies the database open on `src` into a new file `dst` with the online
/// backup API (one step: one consistent snapshot), leaves the copy in
/// rollback-journal mode (one self-contained file) and checks it. The
/// caller removes `dst` on error.
fn copy_into(src: &Connection, dst: &Path) -> Result<StoreSummary, CopyError> {
    let d = dst.display();
    let failed = |what: String| CopyError::Failed(format!("{d}: {what}"));
    let mut out = Connection::open(dst).map_err(|e| failed(format!("cannot create: {e}")))?;
    {
        let backup = rusqlite::backup::Backup::new(src, &mut out)
            .map_err(|e| failed(format!("cannot start the copy: {e}")))?;
        // -1: every page in one step, inside one read transaction of the
        // source. Busy only while another connection recovers the WAL.
        let started = std::time::Instant::now();
        loop {
            use rusqlite::backup::StepResult;
            match backup
                .step(-1)
                .map_err(|e| failed(format!("the copy failed: {e}")))?
            {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked if started.elapsed() < BUSY => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    return Err(failed(format!(
                        "the store stayed locked for {} s; try again",
                        BUSY.as_secs()
                    )));
                }
            }
        }
    }
    // The copy carries the source's WAL flag; a backup file is one file.
    out.pragma_update(None, "journal_mode", "DELETE")
        .map_err(|e| failed(format!("cannot leave WAL mode: {e}")))?;
    let summary = inspect(&out, dst).map_err(|e| match e {
        // A copy that fails its check is the copy's failure, not the caller's.
        CopyError::Refused(m) | CopyError::Failed(m) => CopyError::Failed(m),
    })?;
    out.close()
        .map_err(|(_, e)| failed(format!("cannot close: {e}")))?;
    let file = File::open(dst).map_err(|e| failed(format!("cannot reopen: {e}")))?;
    file.sync_all()
        .map_err(|e| failed(format!("cannot flush to disk: {e}")))?;
    let bytes = file
        .metadata()
        .map_err(|e| failed(format!("cannot read its size: {e}")))?
        .len();
    Ok(StoreSummary { bytes, ..summary })
}

fn open_read_only(path: &Path) -> Result<Connection, CopyError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| CopyError::Refused(format!("{}: cannot open: {e}", path.display())))?;
    conn.busy_timeout(BUSY)
        .map_err(|e| CopyError::Failed(format!("{}: {e}", path.display())))?;
    Ok(conn)
}

/// `name` with `suffix` appended to its file name (`a/tocsin.db` → `a/tocsin.db-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Removes a temporary file on every way out but success.
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(&p);
            let _ = std::fs::remove_file(with_suffix(&p, "-journal"));
        }
    }
}

/// Copies the store in `data_dir` (live or not) to `to`: through `to.tmp`,
/// flushed to disk and renamed, so `to` is either the whole checked copy or
/// not there. An existing `to` is refused unless `force`.
pub fn backup(data_dir: &Path, to: &Path, force: bool) -> Result<StoreSummary, CopyError> {
    let src_path = data_dir.join("tocsin.db");
    if !data_dir.is_dir() {
        return Err(CopyError::Refused(format!(
            "{}: no such directory; name the server's data directory (server.data_dir)",
            data_dir.display()
        )));
    }
    if !src_path.is_file() {
        return Err(CopyError::Refused(format!(
            "{}: no such file; {} holds no Tocsin store",
            src_path.display(),
            data_dir.display()
        )));
    }
    if to.exists() && !force {
        return Err(CopyError::Refused(format!(
            "{}: already exists; pass --force to replace it",
            to.display()
        )));
    }
    if to.is_dir() {
        return Err(CopyError::Refused(format!(
            "{}: is a directory; name the backup file",
            to.display()
        )));
    }
    let src = open_read_only(&src_path)?;
    // Refuse what is not a Tocsin store before writing anything.
    check_source_kind(&src, &src_path)?;
    let tmp = with_suffix(to, ".tmp");
    let _ = std::fs::remove_file(&tmp);
    let guard = TempFile(Some(tmp.clone()));
    let summary = copy_into(&src, &tmp)?;
    drop(src);
    std::fs::rename(&tmp, to).map_err(|e| {
        CopyError::Failed(format!(
            "{}: cannot rename {} into place: {e}",
            to.display(),
            tmp.display()
        ))
    })?;
    guard.keep();
    sync_dir(&parent_of(to)).map_err(|e| {
        CopyError::Failed(format!("{}: cannot flush the directory: {e}", to.display()))
    })?;
    Ok(summary)
}

/// The cheap part of [`inspect`]: a Tocsin store of a schema this build
/// reads. Returns the schema version.
fn check_source_kind(conn: &Connection, path: &Path) -> Result<i64, CopyError> {
    let p = path.display();
    let refused = |what: String| CopyError::Refused(format!("{p}: {what}"));
    // The first read of a file that is not a database fails here.
    let schema: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| refused(unreadable(&e)))?;
    let has_events: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| refused(unreadable(&e)))?;
    if schema < 1 || !has_events {
        return Err(refused(format!(
            "an SQLite database but not a Tocsin store (schema version {schema}, {} events table)",
            if has_events { "an" } else { "no" }
        )));
    }
    if schema > SCHEMA_VERSION {
        return Err(refused(format!(
            "written by a newer Tocsin (schema {schema}; this build reads up to {SCHEMA_VERSION}); \
             restore it with that version or newer"
        )));
    }
    Ok(schema)
}

/// Why a file cannot be read as a database: damaged, or not one at all.
fn unreadable(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            format!("failed its integrity check: {e}")
        }
        _ => format!("not an SQLite database ({e})"),
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub summary: StoreSummary,
    /// Where the store that was there before went (with `force`).
    pub moved_aside: Option<PathBuf>,
}

/// Puts the backup `from` in place as `data_dir/tocsin.db`. Refused while
/// any process has the store in `data_dir` open (its lock), when `from` is
/// not a Tocsin store this build reads or fails its integrity check, and
/// when `data_dir` already holds a store, unless `force`: then the old store
/// (with its WAL) is moved aside as `tocsin.db.before-restore-<stamp>`.
/// `stamp` names that file (the caller's clock: `20261203T130501Z`).
pub fn restore(
    from: &Path,
    data_dir: &Path,
    force: bool,
    stamp: &str,
) -> Result<Restored, CopyError> {
    if !from.is_file() {
        return Err(CopyError::Refused(format!(
            "{}: no such file",
            from.display()
        )));
    }
    // What is certainly not a store is refused before anything is created.
    check_source_kind(&open_read_only(from)?, from)?;
    std::fs::create_dir_all(data_dir).map_err(|e| {
        CopyError::Failed(format!(
            "{}: cannot create the data directory: {e}",
            data_dir.display()
        ))
    })?;
    let _lock = match DirLock::exclusive(data_dir) {
        Ok(l) => l,
        Err(LockError::Held) => {
            return Err(CopyError::Refused(format!(
                "{}: a Tocsin server (or another tocsin command) has this store open ({} is locked); \
                 stop it, then restore",
                data_dir.display(),
                data_dir.join(LOCK_FILE).display()
            )));
        }
        Err(LockError::Io(e)) => {
            return Err(CopyError::Failed(format!(
                "{}: cannot lock: {e}",
                data_dir.join(LOCK_FILE).display()
            )));
        }
    };
    let target = data_dir.join("tocsin.db");
    if target.exists() && !force {
        return Err(CopyError::Refused(format!(
            "{}: already holds a Tocsin store; pass --force to move it aside \
             (as tocsin.db.before-restore-<time>) and restore",
            data_dir.display()
        )));
    }
    let src = open_read_only(from)?;
    let checked = inspect(&src, from)?;
    let tmp = data_dir.join("tocsin.db.restore-tmp");
    let _ = std::fs::remove_file(&tmp);
    let guard = TempFile(Some(tmp.clone()));
    let summary = copy_into(&src, &tmp)?;
    drop(src);
    if summary.events != checked.events || summary.messages != checked.messages {
        return Err(CopyError::Failed(format!(
            "{}: the copy holds {} events and {} messages, the backup {} and {}",
            tmp.display(),
            summary.events,
            summary.messages,
            checked.events,
            checked.messages
        )));
    }
    let moved_aside = move_aside(&target, stamp)?;
    std::fs::rename(&tmp, &target).map_err(|e| {
        CopyError::Failed(format!(
            "{}: cannot rename {} into place: {e}",
            target.display(),
            tmp.display()
        ))
    })?;
    guard.keep();
    sync_dir(data_dir).map_err(|e| {
        CopyError::Failed(format!(
            "{}: cannot flush the directory: {e}",
            data_dir.display()
        ))
    })?;
    Ok(Restored {
        summary,
        moved_aside,
    })
}

/// Moves `tocsin.db` and its `-wal` (committed data not yet checkpointed,
/// after a crash) to `tocsin.db.before-restore-<stamp>` and `...-wal`, and
/// removes the `-shm` (an index SQLite rebuilds): a WAL left beside the new
/// file would be replayed into it. `None` when there was no store.
fn move_aside(target: &Path, stamp: &str) -> Result<Option<PathBuf>, CopyError> {
    let mut aside = with_suffix(target, &format!(".before-restore-{stamp}"));
    let mut n = 1;
    while aside.exists() {
        n += 1;
        aside = with_suffix(target, &format!(".before-restore-{stamp}-{n}"));
    }
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|e| {
            CopyError::Failed(format!(
                "{}: cannot move it aside to {}: {e}",
                from.display(),
                to.display()
            ))
        })
    };
    let had_store = target.exists();
    let has_leftovers = ["-wal", "-journal"]
        .iter()
        .any(|s| with_suffix(target, s).exists());
    if had_store {
        rename(target, &aside)?;
    }
    for suffix in ["-wal", "-journal"] {
        let side = with_suffix(target, suffix);
        if side.exists() {
            rename(&side, &with_suffix(&aside, suffix))?;
        }
    }
    let shm = with_suffix(target, "-shm");
    if shm.exists() {
        std::fs::remove_file(&shm)
            .map_err(|e| CopyError::Failed(format!("{}: cannot remove: {e}", shm.display())))?;
    }
    Ok((had_store || has_leftovers).then_some(aside))
}
