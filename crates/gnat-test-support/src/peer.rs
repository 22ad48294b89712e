//! Other NATS clients as test peers: `nats-py` (whose `nats.micro` module implements the
//! services framework, ADR-32) installed with pip under the cache root, for interop tests.
//!
//! Like the server binary, concurrent test processes may install at once: each installs into
//! its own staging directory and renames it into place; the first rename wins.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The PyPI package of the Python client.
const NATS_PY: &str = "nats-py";

static NATS_PY_DIR: OnceLock<PathBuf> = OnceLock::new();

/// A directory to put on `PYTHONPATH` so that `python3` can `import nats` (with
/// `nats.micro`): `<cache>/nats-py`, installed there with `python3 -m pip install --target`
/// if it is not there yet.
///
/// # Panics
///
/// If python3 or pip is missing or the install fails, with pip's message.
pub fn nats_py() -> PathBuf {
    NATS_PY_DIR
        .get_or_init(|| {
            find_or_install_nats_py().unwrap_or_else(|e| panic!("no usable nats-py: {e}"))
        })
        .clone()
}

/// A `python3` command with [`nats_py`] on its `PYTHONPATH`, unbuffered output.
pub fn python_with_nats_py() -> Command {
    let dir = nats_py();
    let mut cmd = Command::new("python3");
    cmd.env("PYTHONPATH", dir).env("PYTHONUNBUFFERED", "1");
    cmd
}

fn usable(dir: &Path) -> bool {
    dir.join("nats").join("micro").join("__init__.py").is_file()
}

fn find_or_install_nats_py() -> Result<PathBuf, String> {
    let root = crate::binary::cache_root()?;
    let target = root.join("nats-py");
    if usable(&target) {
        return Ok(target);
    }
    std::fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let staging = root.join(format!(".nats-py.tmp-{}-{nanos}", std::process::id()));
    eprintln!(
        "gnat-test-support: installing {NATS_PY} with pip into {}",
        target.display()
    );
    let out = Command::new("python3")
        .args(["-m", "pip", "install", "--disable-pip-version-check"])
        .args(["--no-input", "--quiet", "--target"])
        .arg(&staging)
        .arg(NATS_PY)
        .output()
        .map_err(|e| format!("cannot run python3 -m pip (is python3 with pip installed?): {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(format!(
            "python3 -m pip install {NATS_PY} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    if std::fs::rename(&staging, &target).is_err() {
        // Someone else finished first (or a broken copy is in the way).
        let _ = std::fs::remove_dir_all(&staging);
        if !usable(&target) {
            return Err(format!(
                "{} exists but holds no nats.micro; remove it and retry",
                target.display()
            ));
        }
    }
    Ok(target)
}

/// The nats-py service that [`NatsPyService::start`] runs (`nats_py_service.py`).
const SERVICE_SCRIPT: &str = include_str!("nats_py_service.py");

/// A nats-py micro service (ADR-32) running in a `python3` process, for interop tests: named
/// `py-echo`, version `1.2.3`, description `python peer`, metadata `lang=python`, with the
/// endpoints `echo` (answers with the request's payload) and `py.fail` (answers with error
/// `422`, `nope from python`), both in queue group `q`. Killed when dropped.
pub struct NatsPyService {
    child: std::process::Child,
    id: String,
}

impl NatsPyService {
    /// Starts the service against `url` and waits (up to `within`) until it is subscribed.
    ///
    /// # Panics
    ///
    /// If python3 cannot run it or it does not report ready in time.
    pub fn start(url: &str, within: std::time::Duration) -> NatsPyService {
        use std::io::BufRead;
        let mut child = python_with_nats_py()
            .arg("-c")
            .arg(SERVICE_SCRIPT)
            .arg(url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("run python3");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut service = NatsPyService {
            child,
            id: String::new(),
        };
        let line = rx
            .recv_timeout(within)
            .expect("the nats-py service did not report ready");
        service.id = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("unexpected line from the nats-py service: {line:?}"))
            .to_string();
        service
    }

    /// The service instance's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for NatsPyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsPyService")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for NatsPyService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
