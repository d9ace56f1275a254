//! The server's secret key: 32 random bytes in a file readable by its owner only. It seals MFA
//! secrets at rest; without it they cannot be read, so it is backed up with the database.
//!
//! `pim serve` reads the file named by `secret_key_file` (`PIM_SECRET_KEY_FILE`,
//! `--secret-key-file`), which must exist, or else `<data dir>/secret.key`, which it creates on
//! first start. A key file that the group or others may read, or that is not exactly 32 bytes,
//! is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};

/// Name of the key file in the data directory.
pub const FILE_NAME: &str = "secret.key";
/// Bytes of a key.
pub const KEY_LEN: usize = 32;

/// Where the key is, and whether it may be created there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySource {
    /// The file.
    pub path: PathBuf,
    /// Create it when missing (only the default file in the data directory).
    pub create: bool,
}

impl KeySource {
    /// The configured file, or the default one in `data_dir`.
    pub fn new(configured: Option<PathBuf>, data_dir: &Path) -> KeySource {
        match configured {
            Some(path) => KeySource { path, create: false },
            None => KeySource { path: data_dir.join(FILE_NAME), create: true },
        }
    }

    /// Reads the key, creating the default file on first start.
    pub fn load(&self) -> anyhow::Result<[u8; KEY_LEN]> {
        let path = &self.path;
        match std::fs::metadata(path) {
            Ok(meta) => {
                check_private(path, &meta)?;
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading the secret key {}", path.display()))?;
                <[u8; KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
                    anyhow!(
                        "the secret key {} must hold exactly {KEY_LEN} bytes, not {}; restore the right file \
                         (MFA secrets sealed with another key cannot be read)",
                        path.display(),
                        bytes.len()
                    )
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.create => create(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(anyhow!(
                "the secret key file {} does not exist; create one with `head -c 32 /dev/urandom > FILE && \
                 chmod 600 FILE`, or restore it from your backup",
                path.display()
            )),
            Err(e) => Err(e).with_context(|| format!("reading the secret key {}", path.display())),
        }
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "the secret key {} may be read by others (mode {mode:o}); restrict it with `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    if !meta.is_file() {
        bail!("the secret key {} is not a file", path.display());
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    if !meta.is_file() {
        bail!("the secret key {} is not a file", path.display());
    }
    Ok(())
}

/// Writes a new random key to `path` (mode 0600, never over an existing file).
fn create(path: &Path) -> anyhow::Result<[u8; KEY_LEN]> {
    let key = pim_engine::secrets::random_key();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).with_context(|| format!("creating the secret key {}", path.display()))?;
    f.write_all(&key).and_then(|()| f.sync_all()).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "created a new secret key; back it up with the database");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_is_created_once_private_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let src = KeySource::new(None, &dir.path().join("data"));
        assert_eq!(src.path, dir.path().join("data").join(FILE_NAME));
        let key = src.load().unwrap();
        assert_eq!(src.load().unwrap(), key, "read back, not made again");
        assert_eq!(std::fs::read(&src.path).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&src.path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_configured_key_must_exist_be_private_and_hold_32_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let src = KeySource::new(Some(path.clone()), dir.path());
        let err = src.load().unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        assert!(!path.exists(), "a configured key is never made up");

        std::fs::write(&path, [9u8; 32]).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
            let err = src.load().unwrap_err().to_string();
            assert!(err.contains("may be read by others") && err.contains("chmod 600"), "{err}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).unwrap();
            assert!(src.load().is_err(), "world-readable");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(src.load().unwrap(), [9u8; 32]);

        std::fs::write(&path, [9u8; 31]).unwrap();
        let err = src.load().unwrap_err().to_string();
        assert!(err.contains("exactly 32 bytes, not 31"), "{err}");
        std::fs::write(&path, [9u8; 33]).unwrap();
        assert!(src.load().is_err());
    }
}
