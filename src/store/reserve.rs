//! Space held back for the journal on a full disk.
//!
//! Every change is a journal append, deletes included. On a full filesystem that append
//! failed like any other, so the store refused the very deletes that would have freed space,
//! and start-up (which rewrites the journal compacted) refused to run at all: stuck until the
//! filesystem grew or someone deleted store files by hand (an outside probe). A file of
//! [`RESERVE`] bytes stands in for that space. A journal write that finds the disk full
//! releases it and tries again. Until it can be held again, body writes and journal writes
//! that free nothing (tags, new uploads, delete markers) are refused, so the released space
//! goes to the deletes that free more, not to the next upload. It is first held by the first
//! write after start, not at start: a first start on a nearly full disk must still write its
//! credentials and key file.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Thousands of journal records (a delete is ~100 bytes, a write with tags ~10 KB).
pub const RESERVE: u64 = 4 << 20;

pub struct Reserve {
    path: PathBuf,
    held: AtomicBool,
    /// Not held since the last release (or since start): journal writes that free nothing
    /// must hold it first.
    unsure: AtomicBool,
    /// Released since this process started (so holding it again is news for the log).
    released: AtomicBool,
    change: Mutex<()>,
}

/// The filesystem (or the user's quota) has no room.
pub fn is_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

impl Reserve {
    /// The reserve of the store in `root`, not yet held.
    pub fn new(root: &Path) -> Reserve {
        Reserve {
            path: root.join("reserve"),
            held: AtomicBool::new(false),
            unsure: AtomicBool::new(true),
            released: AtomicBool::new(false),
            change: Mutex::new(()),
        }
    }

    /// Holds the reserve, writing its file if needed; false when the disk has no room for it.
    /// One atomic load while held (the hot path of every body write).
    pub fn hold(&self) -> bool {
        if self.held.load(Ordering::Acquire) {
            return true;
        }
        let _one = self.change.lock().expect("reserve lock");
        if self.held.load(Ordering::Acquire) {
            return true;
        }
        match fill(&self.path) {
            Ok(()) => {
                self.held.store(true, Ordering::Release);
                self.unsure.store(false, Ordering::Release);
                if self.released.load(Ordering::Relaxed) {
                    tracing::info!(bytes = RESERVE, "holding the store's journal reserve again");
                }
                true
            }
            Err(e) => {
                let _ = std::fs::remove_file(&self.path);
                tracing::debug!(error = %e, "the journal reserve cannot be held");
                false
            }
        }
    }

    /// Whether a journal write that frees nothing must [`Reserve::hold`] first: after a
    /// release, metadata-only requests (tags, new uploads, delete markers) would otherwise
    /// use the released space up and leave deletes failing again.
    pub fn must_hold(&self) -> bool {
        self.unsure.load(Ordering::Acquire)
    }

    /// Frees the reserve's space for the journal; false if there was none to free.
    pub fn release(&self) -> bool {
        let _one = self.change.lock().expect("reserve lock");
        let had = std::fs::remove_file(&self.path).is_ok();
        self.held.store(false, Ordering::Release);
        self.unsure.store(true, Ordering::Release);
        if had {
            self.released.store(true, Ordering::Relaxed);
            tracing::warn!(
                bytes = RESERVE,
                "the store's disk is full: released the journal reserve; uploads are refused \
                 until deletes (or the operator) free space for it again"
            );
        }
        had
    }
}

/// Writes the reserve file whole (random bytes, so compressing filesystems allocate them).
fn fill(path: &Path) -> io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == RESERVE) {
        return Ok(());
    }
    let mut f = std::fs::File::create(path)?;
    let mut chunk = vec![0u8; 64 << 10];
    for _ in 0..RESERVE / chunk.len() as u64 {
        rand::Rng::fill(&mut rand::thread_rng(), &mut chunk[..]);
        f.write_all(&chunk)?;
    }
    f.sync_all()
}
