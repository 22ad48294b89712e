//! Unique temporary directories, removed on drop (unless `GNAT_KEEP_TEST_DIRS` is set).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A directory under the system temp dir named `gnat-<tag>-<pid>-<n>`, unique per process
/// (pid) and per call (counter), created empty and removed with everything in it on drop.
#[derive(Debug)]
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let base = std::env::temp_dir();
        if let Err(e) = std::fs::create_dir_all(&base) {
            panic!("cannot create temp dir {}: {e}", base.display());
        }
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("gnat-{tag}-{}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return TempDir { path },
                // Left behind by an earlier process that had our pid: pick the next number.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create temp dir {}: {e}", path.display()),
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("GNAT_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A process-unique number, for names (clusters, servers) that must not collide.
pub(crate) fn unique_number() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}
