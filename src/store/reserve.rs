//! Space held back for the journal on a full disk.
//!
//! Every change is a journal append, deletes included. On a full filesystem that append
//! failed like any other, so the store refused the very deletes that would have freed space,
//! and start-up (which rewrites the journal compacted) refused to run at all: stuck until the
//! filesystem grew or someone deleted store files by hand (an outside probe). A file of
//! [`RESERVE`] bytes stands in for that space. A journal write that finds the disk full
//! releases it and tries again; body writes, which are what fill disks, are refused while it
//! cannot be held again, so the released space goes to the journal, not the next upload.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Thousands of journal records (a delete is ~100 bytes, a write with tags ~10 KB).
pub const RESERVE: u64 = 4 << 20;

pub struct Reserve {
    path: PathBuf,
    held: AtomicBool,
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

    /// Frees the reserve's space for the journal; false if there was none to free.
    pub fn release(&self) -> bool {
        let _one = self.change.lock().expect("reserve lock");
        let had = std::fs::remove_file(&self.path).is_ok();
        self.held.store(false, Ordering::Release);
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
