//! The stored sign-in: `{server, token, expiresAt, username}` in `credentials.json` (mode 0600) in the
//! configuration directory (`$PIM_CONFIG_DIR`, else the platform's config directory + `/pim`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use pim_api::Timestamp;
use serde::{Deserialize, Serialize};

/// File name of the stored credentials.
pub const FILE_NAME: &str = "credentials.json";

/// What `pim login` stores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The server's base URL.
    pub server: String,
    /// The bearer token.
    pub token: String,
    /// When the token stops working.
    pub expires_at: Timestamp,
    /// Who signed in.
    pub username: String,
}

/// The configuration directory: `$PIM_CONFIG_DIR`, else `<config dir>/pim`.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("PIM_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    dirs::config_dir()
        .map(|d| d.join("pim"))
        .ok_or_else(|| anyhow!("cannot find a configuration directory; set PIM_CONFIG_DIR"))
}

/// The credentials file in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The stored credentials, if any.
pub fn load(dir: &Path) -> anyhow::Result<Option<Credentials>> {
    let p = path(dir);
    let text = match fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", p.display())),
    };
    let c = serde_json::from_str(&text).with_context(|| format!("{} is damaged; run pim login again", p.display()))?;
    Ok(Some(c))
}

/// Stores `creds`, readable by the owner only (the file is replaced atomically).
pub fn save(dir: &Path, creds: &Credentials) -> anyhow::Result<()> {
    create_private_dir(dir)?;
    let target = path(dir);
    let tmp = dir.join(format!(".{FILE_NAME}.tmp"));
    let _ = fs::remove_file(&tmp);
    let mut f = open_private(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(serde_json::to_string_pretty(creds)?.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &target).with_context(|| format!("cannot write {}", target.display()))?;
    Ok(())
}

/// Deletes the stored credentials; whether there were any.
pub fn remove(dir: &Path) -> anyhow::Result<bool> {
    let p = path(dir);
    match fs::remove_file(&p) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot delete {}", p.display())),
    }
}

/// Whether two server URLs name the same server (ignoring a trailing slash and case of scheme and host).
pub fn same_server(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().trim_end_matches('/').to_ascii_lowercase();
    norm(a) == norm(b)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

#[cfg(unix)]
fn open_private(p: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(p)?;
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

#[cfg(not(unix))]
fn open_private(p: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create_new(true).open(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Credentials {
        Credentials {
            server: "http://127.0.0.1:8420".into(),
            token: "secret".into(),
            expires_at: Timestamp(1_767_225_600_000),
            username: "alice".into(),
        }
    }

    #[test]
    fn saves_loads_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("nested").join("pim");
        assert_eq!(load(&sub).unwrap(), None);
        save(&sub, &sample()).unwrap();
        assert_eq!(load(&sub).unwrap(), Some(sample()));
        let text = fs::read_to_string(path(&sub)).unwrap();
        assert!(text.contains("\"expiresAt\": \"2026-01-01T00:00:00.000Z\""), "{text}");
        let mut other = sample();
        other.username = "bob".into();
        save(&sub, &other).unwrap();
        assert_eq!(load(&sub).unwrap(), Some(other));
        assert!(remove(&sub).unwrap());
        assert!(!remove(&sub).unwrap());
        assert_eq!(load(&sub).unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // An existing, world-readable file is replaced by a private one.
        fs::write(path(dir.path()), "{}").unwrap();
        fs::set_permissions(path(dir.path()), fs::Permissions::from_mode(0o644)).unwrap();
        save(dir.path(), &sample()).unwrap();
        let mode = fs::metadata(path(dir.path())).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let fresh = dir.path().join("fresh");
        save(&fresh, &sample()).unwrap();
        assert_eq!(fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn damaged_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(path(dir.path()), "not json").unwrap();
        assert!(load(dir.path()).unwrap_err().to_string().contains("damaged"));
    }

    #[test]
    fn servers_compare_loosely() {
        assert!(same_server("http://Host:1/", "http://host:1"));
        assert!(!same_server("http://host:1", "http://host:2"));
    }
}
