//! `pim mfa`: enroll a TOTP authenticator (the QR code is drawn in the terminal), pass MFA for the
//! stored session, show the status, get new recovery codes, and (administrators) reset a user's MFA.

use std::io::IsTerminal;

use anyhow::anyhow;
use pim_api::{MfaConfirmed, MfaStatus, TotpEnrollment, VerifyMfa};
use pim_domain::message::count;
use serde::Serialize;

use super::Ctx;
use super::output::{self, Format, listing, opt_time, time};
use super::resolve;

/// `pim mfa ...`.
#[derive(Debug, clap::Subcommand)]
pub enum MfaCommand {
    /// Enroll a TOTP authenticator app: shows a QR code, asks for its first code, prints recovery codes.
    Enroll(EnrollArgs),
    /// Confirm an enrollment made with `enroll --no-confirm`, with the app's first code.
    Confirm {
        /// The 6 digits the app shows.
        code: String,
    },
    /// Pass MFA for your session (it stays fresh for 15 minutes).
    Verify(VerifyArgs),
    /// Show your MFA and whether your session passed it recently.
    Status,
    /// Print ten new recovery codes; the old ones stop working (needs a fresh MFA session).
    RecoveryCodes,
    /// Remove a user's MFA, e.g. after a lost phone (administrators).
    Reset {
        /// The user (name or id).
        user: String,
    },
}

/// Options of `pim mfa enroll`.
#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// Only enroll and print the secret; confirm later with `pim mfa confirm CODE`.
    #[arg(long)]
    pub no_confirm: bool,
}

/// Options of `pim mfa verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The 6 digits your authenticator app shows [default: asked for on the terminal].
    #[arg(long, value_name = "CODE", conflicts_with = "recovery_code")]
    pub otp: Option<String>,
    /// One of your recovery codes instead (each works once).
    #[arg(long, value_name = "CODE")]
    pub recovery_code: Option<String>,
}

/// Runs `pim mfa ...`.
pub async fn run(ctx: &Ctx, command: MfaCommand) -> anyhow::Result<()> {
    match command {
        MfaCommand::Enroll(args) => enroll(ctx, args).await,
        MfaCommand::Confirm { code } => {
            let confirmed = ctx.client()?.confirm_totp(&code).await?;
            show_confirmed(ctx.format, None, &confirmed)
        }
        MfaCommand::Verify(args) => verify(ctx, args).await,
        MfaCommand::Status => status(ctx).await,
        MfaCommand::RecoveryCodes => {
            let codes = ctx.client()?.regenerate_recovery_codes().await?;
            output::show(ctx.format, &codes, || recovery_codes_text(&codes.recovery_codes))
        }
        MfaCommand::Reset { user } => {
            let client = ctx.client()?;
            let id = resolve::principal_id(&client, &user).await?;
            client.reset_mfa(id).await?;
            super::ack(
                ctx.format,
                serde_json::json!({"reset": true, "userId": id}),
                &format!("Removed the MFA of {user}: they must enroll again with pim mfa enroll."),
            )
        }
    }
}

/// The QR code of `uri` drawn with half-block characters (two modules per character cell).
pub fn qr_text(uri: &str) -> anyhow::Result<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| anyhow!("cannot draw the QR code: {e}"))?;
    Ok(code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).quiet_zone(true).build())
}

/// Reads one line: a prompt on standard error and the answer from the terminal, or the first line
/// of standard input when it is not a terminal.
fn ask(prompt: &str) -> anyhow::Result<String> {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    drop(err);
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let line = line.trim().to_owned();
    if line.is_empty() {
        return Err(anyhow!("no code given"));
    }
    Ok(line)
}

async fn enroll(ctx: &Ctx, args: EnrollArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let e = client.enroll_totp().await?;
    if args.no_confirm {
        return output::show(ctx.format, &e, || {
            format!("{}\n\nThen confirm with: pim mfa confirm CODE", enrollment_text(&e).unwrap_or_default())
        });
    }
    if ctx.format == Format::Table {
        output::print(&enrollment_text(&e)?)?;
    } else {
        output::note(&format!("Scan this URI with your authenticator app: {}", e.otpauth_uri));
    }
    let code = ask("Code from your authenticator app: ")?;
    let confirmed = client.confirm_totp(&code).await?;
    show_confirmed(ctx.format, Some(&e), &confirmed)
}

fn enrollment_text(e: &TotpEnrollment) -> anyhow::Result<String> {
    let mut s = String::from("Scan this QR code with your authenticator app (or type the secret):\n\n");
    s.push_str(&qr_text(&e.otpauth_uri)?);
    s.push('\n');
    s.push_str(&listing(&[("uri", e.otpauth_uri.clone()), ("secret", e.secret.clone())]));
    if e.replaces_confirmed {
        s.push_str("\n\nConfirming it replaces your current authenticator and recovery codes.");
    }
    Ok(s)
}

/// What `pim mfa enroll -o json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Enrolled<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    enrollment: Option<&'a TotpEnrollment>,
    confirmed: &'a MfaConfirmed,
}

fn show_confirmed(format: Format, e: Option<&TotpEnrollment>, c: &MfaConfirmed) -> anyhow::Result<()> {
    output::show(format, &Enrolled { enrollment: e, confirmed: c }, || {
        format!(
            "Your authenticator is confirmed; this session passed MFA (fresh until {}).\n\n{}",
            time(c.fresh_until),
            recovery_codes_text(&c.recovery_codes)
        )
    })
}

fn recovery_codes_text(codes: &[String]) -> String {
    format!(
        "Recovery codes (each works once, instead of a code from the app; keep them safe, they are not shown again):\n\n  {}",
        codes.join("\n  ")
    )
}

async fn verify(ctx: &Ctx, args: VerifyArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let body = match (args.otp, args.recovery_code) {
        (Some(code), _) => VerifyMfa { code: Some(code), recovery_code: None },
        (None, Some(rc)) => VerifyMfa { code: None, recovery_code: Some(rc) },
        (None, None) if std::io::stdin().is_terminal() => {
            VerifyMfa { code: Some(ask("Code from your authenticator app: ")?), recovery_code: None }
        }
        (None, None) => {
            return Err(anyhow!("pass --otp CODE or --recovery-code CODE (standard input is not a terminal)"));
        }
    };
    let v = client.verify_mfa(&body).await?;
    output::show(ctx.format, &v, || {
        let mut s = format!("MFA passed; this session is fresh until {}.", time(v.fresh_until));
        if v.method == "recoveryCode" {
            s.push_str(&format!("\n{} left.", count(v.recovery_codes_left, "recovery code", "recovery codes")));
        }
        s
    })
}

async fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let m: MfaStatus = ctx.client()?.mfa_status().await?;
    output::show(ctx.format, &m, || {
        listing(&[
            ("enrolled", output::yes_no(m.enrolled)),
            ("confirmed at", opt_time(m.confirmed_at)),
            ("pending since", opt_time(m.pending_since)),
            ("recovery codes", if m.enrolled { m.recovery_codes_left.to_string() } else { String::new() }),
            ("locked until", opt_time(m.locked_until)),
            ("session MFA at", opt_time(m.session_mfa_at)),
            (
                "session",
                match m.fresh_until {
                    Some(t) => format!("fresh until {}", time(t)),
                    None => "not fresh: pim mfa verify".to_owned(),
                },
            ),
        ])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_codes_are_drawn_in_half_blocks() {
        let text = qr_text("otpauth://totp/pim:alice?secret=AAAA&issuer=pim").unwrap();
        assert!(text.contains('▀') || text.contains('▄') || text.contains('█'), "{text}");
        let rows: Vec<_> = text.lines().collect();
        assert!(rows.len() > 10);
        assert!(rows.iter().all(|r| r.chars().count() == rows[0].chars().count()), "a square");
    }
}
