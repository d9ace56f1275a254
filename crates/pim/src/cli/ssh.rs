//! `pim ssh-cert` (an OpenSSH user certificate for one of your assignments in effect, written
//! beside your key like `ssh-keygen -s` does) and `pim ssh-ca` (pim's CA public key, for hosts).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use pim_api::{IssueSshCertificate, ScopePath};

use super::Ctx;
use super::duration::parse_scope;
use super::output::{self, listing};

/// Options of `pim ssh-cert`.
#[derive(Debug, clap::Args)]
pub struct SshCertArgs {
    /// Your public key [default: ~/.ssh/id_ed25519.pub].
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Rely on an assignment of this role (name or id); needed when several roles with SSH principals are active.
    #[arg(long)]
    pub role: Option<String>,
    /// Rely on an assignment that applies at this scope (the principals are the settings in force there).
    #[arg(long, value_parser = parse_scope)]
    pub scope: Option<ScopePath>,
    /// Where to write the certificate [default: beside the key, `<key>-cert.pub`]; `-` prints it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Where `ssh` looks for the certificate of `public_key`: `id_ed25519.pub` -> `id_ed25519-cert.pub`.
pub fn certificate_path(public_key: &Path) -> PathBuf {
    let name = public_key.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".pub").unwrap_or(&name);
    public_key.with_file_name(format!("{stem}-cert.pub"))
}

fn default_key() -> anyhow::Result<PathBuf> {
    let home = dirs::home_dir().ok_or_else(|| anyhow!("no home directory: give --public-key FILE"))?;
    Ok(home.join(".ssh").join("id_ed25519.pub"))
}

/// Runs `pim ssh-cert`.
pub async fn ssh_cert(ctx: &Ctx, a: SshCertArgs) -> anyhow::Result<()> {
    let key_path = match a.public_key {
        Some(p) => p,
        None => default_key()?,
    };
    let text = std::fs::read_to_string(&key_path).with_context(|| {
        format!("cannot read the public key {} (make one with ssh-keygen -t ed25519)", key_path.display())
    })?;
    // Never send a private key anywhere, not even to be refused.
    if text.contains("PRIVATE KEY") {
        return Err(anyhow!("{} is a private key: give the public key (the .pub file beside it)", key_path.display()));
    }
    let client = ctx.client()?;
    let c =
        client.issue_ssh_certificate(&IssueSshCertificate { public_key: text, role: a.role, scope: a.scope }).await?;
    let out = a.out.unwrap_or_else(|| certificate_path(&key_path));
    let line = format!("{}\n", c.certificate.trim_end());
    let written = if out.as_os_str() == "-" {
        None
    } else {
        std::fs::write(&out, &line).with_context(|| format!("cannot write {}", out.display()))?;
        Some(out)
    };
    if ctx.format == output::Format::Json {
        return output::print_json(&c);
    }
    if written.is_none() {
        output::print(&line)?;
    }
    let mut pairs = vec![];
    if let Some(p) = &written {
        pairs.push(("certificate", p.display().to_string()));
    }
    pairs.extend([
        ("principals", c.principals.join(", ")),
        ("valid until", output::time(c.valid_before)),
        ("role", format!("{} at {}", c.role_name, c.scope)),
        ("activation", c.assignment_id.to_string()),
        ("key id", c.key_id.clone()),
        ("serial", c.serial.to_string()),
        ("CA", c.ca_fingerprint.clone()),
    ]);
    if written.is_some() {
        output::print(&listing(&pairs))
    } else {
        output::note(&listing(&pairs));
        Ok(())
    }
}

/// Runs `pim ssh-ca`: prints pim's CA public key (one line, for `TrustedUserCAKeys`).
pub async fn ssh_ca(ctx: &Ctx) -> anyhow::Result<()> {
    let key = ctx.anonymous()?.ssh_ca_public_key().await?;
    output::print(key.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_goes_where_ssh_looks_for_it() {
        assert_eq!(certificate_path(Path::new("/h/.ssh/id_ed25519.pub")), PathBuf::from("/h/.ssh/id_ed25519-cert.pub"));
        assert_eq!(certificate_path(Path::new("key")), PathBuf::from("key-cert.pub"));
        assert_eq!(certificate_path(Path::new("a/id_rsa.pub")), PathBuf::from("a/id_rsa-cert.pub"));
    }
}
