//! Server configuration: defaults, then `pim.toml`, then `PIM_*` environment variables, then flags.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// Address `pim serve` listens on when nothing else is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8420";
/// Data directory when nothing else is configured.
pub const DEFAULT_DATA_DIR: &str = "pim-data";

/// The keys `pim.toml` may hold.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileConfig {
    /// Address to listen on.
    pub listen: Option<String>,
    /// Data directory (embedded SQLite, keys).
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL.
    pub database_url: Option<String>,
    /// Seconds between background job runs.
    pub job_interval_secs: Option<u64>,
    /// The secret key file (32 bytes, mode 0600) sealing MFA secrets.
    pub secret_key_file: Option<PathBuf>,
}

impl FileConfig {
    /// Reads `path`; a missing default file is no error, a missing named file is.
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("pim.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("reading {}", path.display())),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// Where the database is.
pub fn database_url(database: Option<String>, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(url) = database {
        return Ok(url);
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {} to its owner", data_dir.display()))?;
    }
    let abs = std::fs::canonicalize(data_dir)?;
    Ok(format!("sqlite://{}", abs.join("pim.db").display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_keys_parse_and_unknown_keys_are_refused() {
        let c: FileConfig = toml::from_str("listen = \"0.0.0.0:9\"\ndata_dir = \"/var/lib/pim\"\n").unwrap();
        assert_eq!(c.listen.as_deref(), Some("0.0.0.0:9"));
        assert_eq!(c.data_dir, Some(PathBuf::from("/var/lib/pim")));
        assert!(toml::from_str::<FileConfig>("lisen = 1").is_err());
    }

    #[test]
    fn missing_default_file_is_fine_but_a_named_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        assert!(FileConfig::load(Some(&dir.path().join("nope.toml"))).is_err());
        let url = database_url(None, &dir.path().join("data")).unwrap();
        assert!(url.starts_with("sqlite://") && url.ends_with("pim.db"), "{url}");
        assert_eq!(database_url(Some("postgres://x".into()), dir.path()).unwrap(), "postgres://x");
    }
}
