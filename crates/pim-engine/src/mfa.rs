//! TOTP multi-factor authentication (SPEC section 6): enrollment (secret, `otpauth://` URI, QR
//! code), confirmation with the first code (which issues recovery codes), verification of a
//! session with a code or a recovery code, status, new recovery codes, and an administrator's reset.
//!
//! - A *session* is the API token a call comes with; `api_tokens.mfa_at` records when it last
//!   passed MFA, and [`Engine::mfa_fresh`] says whether that was within
//!   `EngineOptions::mfa_freshness_ms`.
//! - Codes follow RFC 6238 (HMAC-SHA-1, 6 digits, 30 s steps, issuer `pim`), at the engine clock's
//!   time, with one step of skew either way. A code is accepted once: a code of the last accepted
//!   step or an earlier one is refused as reused.
//! - Five wrong codes (or recovery codes) in a row lock the factor for 15 minutes. The count and the
//!   lock are columns of the factor, so they hold across restarts and replicas.
//! - Seeds are sealed with the engine's [`crate::secrets::SecretBox`], bound to the principal;
//!   recovery codes are kept as keyed hashes. No secret or code is ever logged or audited.

use pim_domain::message::count;
use pim_domain::mfa::{
    self, RECOVERY_CODE_COUNT, RECOVERY_CODE_LEN, TOTP_DIGITS, TOTP_SECRET_BYTES, TOTP_STEP_SECS, TotpFactor,
};
use pim_domain::{AuditDraft, DomainError, ErrorKind, MfaFactorId, PrincipalId, PrincipalKind, ScopePath, Timestamp};
use pim_store::{WriteTx, q};
use rand::RngCore;
use totp_rs::{Algorithm, TOTP};

use crate::context::{Actor, Context};
use crate::engine::Engine;
use crate::error::{EngineError, Result, refuse};

/// The issuer shown by authenticator apps.
pub const ISSUER: &str = "pim";
/// Where the key check is kept in the `meta` table.
const KEY_CHECK_META: &str = "secrets.keyCheck";

/// A proof of the second factor.
#[derive(Clone, PartialEq, Eq)]
pub enum MfaProof {
    /// A 6-digit TOTP code from the authenticator app.
    Totp(String),
    /// One of the single-use recovery codes (`xxxxx-xxxxx`).
    RecoveryCode(String),
}

impl std::fmt::Debug for MfaProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the code itself.
        f.write_str(self.method())
    }
}

impl MfaProof {
    /// `totp` or `recoveryCode`, as audit events name the method.
    pub fn method(&self) -> &'static str {
        match self {
            MfaProof::Totp(_) => "totp",
            MfaProof::RecoveryCode(_) => "recoveryCode",
        }
    }

    /// The proof with its code checked for form (`invalid_input` otherwise) and normalized.
    pub fn normalized(&self) -> std::result::Result<MfaProof, DomainError> {
        match self {
            MfaProof::Totp(c) => mfa::parse_totp_code(c).map(MfaProof::Totp),
            MfaProof::RecoveryCode(c) => mfa::parse_recovery_code(c).map(MfaProof::RecoveryCode),
        }
    }
}

/// A new (pending) TOTP factor, shown once.
#[derive(Clone)]
pub struct TotpEnrollment {
    /// The seed in base 32, for typing into an app.
    pub secret_base32: String,
    /// `otpauth://totp/pim:<user>?secret=...&issuer=pim`.
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
    /// When it was enrolled.
    pub enrolled_at: Timestamp,
    /// Whether confirming it will replace a confirmed factor.
    pub replaces_confirmed: bool,
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrollment").field("enrolled_at", &self.enrolled_at).finish_non_exhaustive()
    }
}

/// A confirmed factor: the recovery codes (shown once) and the session's MFA time.
#[derive(Clone)]
pub struct MfaConfirmation {
    /// Ten single-use recovery codes, `xxxxx-xxxxx`.
    pub recovery_codes: Vec<String>,
    /// When the session passed MFA (now).
    pub mfa_at: Timestamp,
    /// Until when the session counts as fresh.
    pub fresh_until: Timestamp,
}

impl std::fmt::Debug for MfaConfirmation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaConfirmation").field("mfa_at", &self.mfa_at).finish_non_exhaustive()
    }
}

/// A session that passed MFA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MfaVerification {
    /// When (now).
    pub mfa_at: Timestamp,
    /// Until when the session counts as fresh.
    pub fresh_until: Timestamp,
    /// `totp` or `recoveryCode`.
    pub method: &'static str,
    /// Unused recovery codes left.
    pub recovery_codes_left: i64,
}

/// The caller's MFA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MfaStatus {
    /// When the confirmed factor was confirmed; absent without one.
    pub confirmed_at: Option<Timestamp>,
    /// When a factor waiting for its first code was enrolled.
    pub pending_since: Option<Timestamp>,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// Until when the confirmed factor refuses every code (only while it does).
    pub locked_until: Option<Timestamp>,
    /// When this session last passed MFA.
    pub session_mfa_at: Option<Timestamp>,
    /// Until when this session counts as fresh (only while it does).
    pub fresh_until: Option<Timestamp>,
}

/// What an administrator's reset removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MfaReset {
    /// Factors (confirmed or pending).
    pub factors: u64,
    /// Recovery codes (used or not).
    pub recovery_codes: u64,
}

/// What checking a proof decided.
enum Verdict {
    /// Accepted; the step of a TOTP code, if it was one.
    Accepted { step: Option<i64> },
    /// Refused with this error (its events are written).
    Refused(DomainError),
}

/// The failure audit event for a refusal `e`, from `draft` (the same shape as the engine's
/// recorded refusals: `error_code` and the message in the details).
pub(crate) fn failure(mut draft: AuditDraft, e: &DomainError) -> AuditDraft {
    draft.error_code = Some(e.code().to_owned());
    if draft.details.is_null() {
        draft.details = serde_json::json!({ "message": e.message });
    } else if let Some(obj) = draft.details.as_object_mut() {
        obj.insert("message".into(), serde_json::Value::String(e.message.clone()));
    }
    draft
}

/// The associated data a principal's TOTP seed is sealed with.
fn seed_context(principal: PrincipalId) -> String {
    format!("totp:{principal}")
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A TOTP generator for `seed` (RFC 6238, SHA-1, 6 digits, 30 s; labelled `pim:<account>`).
fn totp(seed: Vec<u8>, account: &str) -> Result<TOTP> {
    TOTP::new(Algorithm::SHA1, TOTP_DIGITS, 1, TOTP_STEP_SECS, seed, Some(ISSUER.to_owned()), account.to_owned())
        .map_err(|e| EngineError::Internal(format!("cannot build a TOTP generator: {e}")))
}

/// The step among those accepted at `now` whose code is `code`, if any (every candidate is
/// computed and compared, so timing does not tell which matched).
fn matching_step(generator: &TOTP, code: &str, now: Timestamp) -> Option<i64> {
    let mut found = None;
    for step in mfa::candidate_steps(now) {
        let Ok(secs) = u64::try_from(step) else { continue };
        let expected = generator.generate(secs * TOTP_STEP_SECS);
        if constant_time_eq(expected.as_bytes(), code.as_bytes()) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// `invalid_input` for calls that need a session token.
fn no_session() -> DomainError {
    DomainError::invalid("MFA is passed by a session: call with a bearer token")
}

fn not_enrolled() -> DomainError {
    DomainError::new(
        ErrorKind::MfaNotEnrolled,
        "no confirmed authenticator: enroll one first (pim mfa enroll, or POST /api/v1/me/mfa/totp)",
    )
}

fn locked(until: Timestamp) -> DomainError {
    DomainError::new(
        ErrorKind::TooManyAttempts,
        format!("MFA is locked until {until} after {}", count(mfa::MAX_FAILED_ATTEMPTS, "wrong code", "wrong codes")),
    )
}

impl Engine {
    /// Whether the caller's session passed MFA within the freshness window (and not in the future).
    pub(crate) fn mfa_fresh(&self, actor: &Actor) -> bool {
        let now = self.now();
        actor.mfa_at.is_some_and(|t| t <= now && now.0 - t.0 < self.options.mfa_freshness_ms)
    }

    fn fresh_until(&self, mfa_at: Timestamp) -> Timestamp {
        mfa_at.plus_millis(self.options.mfa_freshness_ms)
    }

    /// Whether the secret key is the one this database's secrets were sealed with (true while
    /// nothing was sealed yet). `pim serve` refuses to start when it is not.
    pub async fn secret_key_matches(&self) -> Result<bool> {
        let mut c = self.store.read().await?;
        Ok(q::get_meta(&mut c, KEY_CHECK_META).await?.is_none_or(|v| v == self.secrets.key_check()))
    }

    /// The keyed hash a recovery code is stored as (bound to its owner).
    fn recovery_hash(&self, principal: PrincipalId, normalized_code: &str) -> String {
        self.secrets.keyed_hash(format!("recovery-code:{principal}:{normalized_code}").as_bytes())
    }

    /// Ten new recovery codes and their hashes.
    fn new_recovery_codes(&self, principal: PrincipalId) -> (Vec<String>, Vec<String>) {
        let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
        let mut hashes = Vec::with_capacity(RECOVERY_CODE_COUNT);
        while codes.len() < RECOVERY_CODE_COUNT {
            let mut random = [0u8; RECOVERY_CODE_LEN];
            rand::rngs::OsRng.fill_bytes(&mut random);
            let code = mfa::recovery_code_from(&random);
            let hash = match mfa::parse_recovery_code(&code) {
                Ok(normalized) => self.recovery_hash(principal, &normalized),
                Err(_) => continue,
            };
            if !hashes.contains(&hash) {
                codes.push(code);
                hashes.push(hash);
            }
        }
        (codes, hashes)
    }

    /// Checks `proof` (already normalized) against `factor` at `now` and records what it does to
    /// the factor in `tx`: an accepted step, a used recovery code, a wrong attempt, a lock. On a
    /// refusal the failure event (from `draft`) is written here, and `mfa.locked` when the factor
    /// locks; on success `mfa.recoveryCodeUsed` for a recovery code. The caller writes its success
    /// event and commits in both cases.
    async fn check_proof(
        &self,
        tx: &mut WriteTx,
        draft: &AuditDraft,
        factor: &TotpFactor,
        proof: &MfaProof,
        now: Timestamp,
    ) -> Result<Verdict> {
        let mut draft = draft.clone();
        if !draft.details.is_object() {
            draft.details = serde_json::json!({});
        }
        draft.details["method"] = serde_json::Value::String(proof.method().to_owned());
        if let Some(until) = factor.locked_until.filter(|_| factor.is_locked(now)) {
            let e = locked(until);
            tx.audit(now, failure(draft, &e)).await?;
            return Ok(Verdict::Refused(e));
        }
        let principal = factor.principal_id;
        match proof {
            MfaProof::Totp(code) => {
                let seed = self.secrets.open(&factor.secret, &seed_context(principal)).map_err(|e| {
                    EngineError::Internal(format!("the TOTP seed of principal {principal} does not open: {e}"))
                })?;
                match matching_step(&totp(seed, "")?, code, now) {
                    Some(step) if factor.is_replay(step) => {
                        let e = DomainError::new(
                            ErrorKind::MfaCodeReused,
                            "this code was used already; wait for the next one in your authenticator app",
                        );
                        tx.audit(now, failure(draft, &e)).await?;
                        Ok(Verdict::Refused(e))
                    }
                    Some(step) => {
                        q::record_mfa_success(tx.conn(), factor.id, Some(step)).await?;
                        Ok(Verdict::Accepted { step: Some(step) })
                    }
                    None => self.wrong_proof(tx, draft, factor, now).await,
                }
            }
            MfaProof::RecoveryCode(code) => {
                let hash = self.recovery_hash(principal, code);
                match q::use_recovery_code(tx.conn(), principal, &hash, now).await? {
                    q::RecoveryCodeUse::Used => {
                        q::record_mfa_success(tx.conn(), factor.id, None).await?;
                        let left = q::count_unused_recovery_codes(tx.conn(), principal).await?;
                        let mut d = draft.clone();
                        d.action = "mfa.recoveryCodeUsed".into();
                        d.details = serde_json::json!({ "recoveryCodesLeft": left });
                        tx.audit(now, d).await?;
                        Ok(Verdict::Accepted { step: None })
                    }
                    q::RecoveryCodeUse::UsedBefore(at) => {
                        let e = DomainError::new(
                            ErrorKind::MfaCodeReused,
                            format!("this recovery code was used already (at {at}); each works once"),
                        );
                        tx.audit(now, failure(draft, &e)).await?;
                        Ok(Verdict::Refused(e))
                    }
                    q::RecoveryCodeUse::Unknown => self.wrong_proof(tx, draft, factor, now).await,
                }
            }
        }
    }

    /// A wrong code: counted, and the factor locked at the fifth in a row.
    async fn wrong_proof(
        &self,
        tx: &mut WriteTx,
        mut draft: AuditDraft,
        factor: &TotpFactor,
        now: Timestamp,
    ) -> Result<Verdict> {
        let (failed, lock) = factor.after_wrong_code(now);
        q::record_mfa_failure(tx.conn(), factor.id, failed, lock).await?;
        draft.details["wrongCode"] = serde_json::Value::Bool(true);
        let e = match lock {
            Some(until) => {
                let e = locked(until);
                tx.audit(now, failure(draft.clone(), &e)).await?;
                let mut d = draft;
                d.action = "mfa.locked".into();
                d.details = serde_json::json!({ "factorId": factor.id, "lockedUntil": until });
                tx.audit(now, failure(d, &e)).await?;
                e
            }
            None => {
                let left = mfa::MAX_FAILED_ATTEMPTS - failed;
                let e = DomainError::new(
                    ErrorKind::InvalidMfaCode,
                    format!(
                        "the code is wrong; after {}, MFA is locked for {}",
                        count(left, "more wrong code", "more wrong codes"),
                        count(mfa::LOCKOUT_MS / 60_000, "minute", "minutes")
                    ),
                );
                tx.audit(now, failure(draft, &e)).await?;
                e
            }
        };
        Ok(Verdict::Refused(e))
    }

    /// Sign-in with a TOTP code (already well-formed), inside the sign-in's transaction: writes
    /// `mfa.verify` (success or failure) and updates the factor. The inner error is the refusal,
    /// whose events are written; the caller commits either way.
    pub(crate) async fn sign_in_mfa(
        &self,
        tx: &mut WriteTx,
        sign_in: &AuditDraft,
        user: PrincipalId,
        code: &str,
        now: Timestamp,
    ) -> Result<std::result::Result<(), DomainError>> {
        let mut draft = sign_in.clone();
        draft.action = "mfa.verify".into();
        draft.principal_id = Some(user);
        draft.details = serde_json::json!({ "method": "totp", "signIn": true });
        let Some(factor) = q::get_confirmed_totp_factor(tx.conn(), user).await? else {
            let e = not_enrolled();
            tx.audit(now, failure(draft, &e)).await?;
            return Ok(Err(e));
        };
        match self.check_proof(tx, &draft, &factor, &MfaProof::Totp(code.to_owned()), now).await? {
            Verdict::Accepted { .. } => {
                tx.audit(now, draft).await?;
                Ok(Ok(()))
            }
            Verdict::Refused(e) => Ok(Err(e)),
        }
    }

    /// Starts enrolling a TOTP authenticator for the caller (a user): a new pending factor, which
    /// replaces a pending one. With a confirmed factor this needs a fresh MFA session first.
    pub async fn enroll_totp(&self, ctx: &Context) -> Result<TotpEnrollment> {
        let actor = self.actor(ctx)?.clone();
        let mut draft = self.draft(ctx, "mfa.enroll");
        draft.principal_id = Some(actor.id);
        self.audited(draft.clone(), async {
            if actor.kind != PrincipalKind::User {
                return refuse(
                    ErrorKind::InvalidInput,
                    "only users enroll MFA; service principals authenticate with API tokens",
                );
            }
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let confirmed = q::get_confirmed_totp_factor(tx.conn(), actor.id).await?;
            if confirmed.is_some() && !self.mfa_fresh(&actor) {
                return refuse(
                    ErrorKind::MfaRequired,
                    "you have a confirmed authenticator: pass MFA with it first (pim mfa verify), then enroll the new one",
                );
            }
            let replaced_pending = q::delete_pending_totp_factor(tx.conn(), actor.id).await?;
            let mut seed = vec![0u8; TOTP_SECRET_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut seed);
            let generator = totp(seed.clone(), &actor.name)?;
            let sealed = self
                .secrets
                .seal(&seed, &seed_context(actor.id))
                .map_err(|e| EngineError::Internal(format!("cannot seal a TOTP seed: {e}")))?;
            let factor = TotpFactor {
                id: MfaFactorId::new(),
                principal_id: actor.id,
                secret: sealed,
                confirmed_at: None,
                last_step: None,
                failed_attempts: 0,
                locked_until: None,
                created_at: now,
            };
            q::insert_totp_factor(tx.conn(), &factor).await?;
            if q::get_meta(tx.conn(), KEY_CHECK_META).await?.is_none() {
                q::set_meta(tx.conn(), KEY_CHECK_META, &self.secrets.key_check()).await?;
            }
            let mut d = draft.clone();
            d.details = serde_json::json!({
                "factorId": factor.id,
                "replacedPending": replaced_pending,
                "replacesConfirmed": confirmed.is_some(),
            });
            tx.audit(now, d).await?;
            let otpauth_uri = generator.get_url();
            let qr_svg = qr_svg(&otpauth_uri)?;
            tx.commit().await?;
            Ok(TotpEnrollment {
                secret_base32: generator.get_secret_base32(),
                otpauth_uri,
                qr_svg,
                enrolled_at: now,
                replaces_confirmed: confirmed.is_some(),
            })
        })
        .await
    }

    /// Confirms the caller's pending factor with its first code: it becomes the confirmed factor
    /// (replacing any), ten new recovery codes replace the old ones, and the session has passed MFA.
    pub async fn confirm_totp(&self, ctx: &Context, code: &str) -> Result<MfaConfirmation> {
        let actor = self.actor(ctx)?.clone();
        let mut draft = self.draft(ctx, "mfa.confirm");
        draft.principal_id = Some(actor.id);
        draft.details = serde_json::json!({ "method": "totp" });
        let code = match mfa::parse_totp_code(code) {
            Ok(c) => c,
            Err(e) => {
                self.record_refusal(draft, &e).await?;
                return Err(e.into());
            }
        };
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        let Some(pending) = q::get_pending_totp_factor(tx.conn(), actor.id).await? else {
            let e = DomainError::new(
                ErrorKind::MfaNotEnrolled,
                "no enrollment waits for a code: start one with pim mfa enroll (POST /api/v1/me/mfa/totp)",
            );
            tx.audit(now, failure(draft, &e)).await?;
            tx.commit().await?;
            return Err(e.into());
        };
        let step = match self.check_proof(&mut tx, &draft, &pending, &MfaProof::Totp(code), now).await? {
            Verdict::Accepted { step } => step,
            Verdict::Refused(e) => {
                tx.commit().await?;
                return Err(e.into());
            }
        };
        let replaced = q::get_confirmed_totp_factor(tx.conn(), actor.id).await?.map(|f| f.id);
        if replaced.is_some() {
            q::delete_confirmed_totp_factor(tx.conn(), actor.id).await?;
        }
        q::confirm_totp_factor(tx.conn(), pending.id, now, step.unwrap_or_default()).await?;
        let (codes, hashes) = self.new_recovery_codes(actor.id);
        q::replace_recovery_codes(tx.conn(), actor.id, &hashes, now).await?;
        if let Some(token) = actor.token_id {
            q::set_token_mfa(tx.conn(), token, now).await?;
        }
        let mut d = draft;
        d.details = serde_json::json!({
            "factorId": pending.id,
            "replacedFactorId": replaced,
            "recoveryCodes": codes.len(),
            "tokenId": actor.token_id,
        });
        tx.audit(now, d).await?;
        tx.commit().await?;
        if let Some(token) = actor.token_id {
            self.tokens.set_mfa(token, now);
        }
        Ok(MfaConfirmation { recovery_codes: codes, mfa_at: now, fresh_until: self.fresh_until(now) })
    }

    /// Passes MFA for the caller's session with a TOTP code or a recovery code; answers when.
    /// The request flow calls this when a request carries a code.
    pub async fn verify_mfa(&self, ctx: &Context, proof: MfaProof) -> Result<Timestamp> {
        self.verify_session(ctx, proof).await.map(|v| v.mfa_at)
    }

    /// [`Engine::verify_mfa`], with the details the API answers.
    pub async fn verify_session(&self, ctx: &Context, proof: MfaProof) -> Result<MfaVerification> {
        let actor = self.actor(ctx)?.clone();
        let mut draft = self.draft(ctx, "mfa.verify");
        draft.principal_id = Some(actor.id);
        draft.details = serde_json::json!({ "method": proof.method() });
        let checked = proof.normalized().and_then(|p| actor.token_id.map(|t| (p, t)).ok_or_else(no_session));
        let (proof, token) = match checked {
            Ok(v) => v,
            Err(e) => {
                self.record_refusal(draft, &e).await?;
                return Err(e.into());
            }
        };
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        let Some(factor) = q::get_confirmed_totp_factor(tx.conn(), actor.id).await? else {
            let e = not_enrolled();
            tx.audit(now, failure(draft, &e)).await?;
            tx.commit().await?;
            return Err(e.into());
        };
        if let Verdict::Refused(e) = self.check_proof(&mut tx, &draft, &factor, &proof, now).await? {
            tx.commit().await?;
            return Err(e.into());
        }
        q::set_token_mfa(tx.conn(), token, now).await?;
        let left = q::count_unused_recovery_codes(tx.conn(), actor.id).await?;
        let mut d = draft;
        d.details["tokenId"] = serde_json::json!(token);
        tx.audit(now, d).await?;
        tx.commit().await?;
        self.tokens.set_mfa(token, now);
        Ok(MfaVerification {
            mfa_at: now,
            fresh_until: self.fresh_until(now),
            method: proof.method(),
            recovery_codes_left: left,
        })
    }

    /// The caller's MFA: factor, recovery codes, lock, and this session's freshness.
    pub async fn mfa_status(&self, ctx: &Context) -> Result<MfaStatus> {
        let actor = self.actor(ctx)?;
        let now = self.now();
        let mut c = self.store.read().await?;
        let confirmed = q::get_confirmed_totp_factor(&mut c, actor.id).await?;
        let pending = q::get_pending_totp_factor(&mut c, actor.id).await?;
        let left = q::count_unused_recovery_codes(&mut c, actor.id).await?;
        Ok(MfaStatus {
            confirmed_at: confirmed.as_ref().and_then(|f| f.confirmed_at),
            pending_since: pending.map(|f| f.created_at),
            recovery_codes_left: if confirmed.is_some() { left } else { 0 },
            locked_until: confirmed.as_ref().filter(|f| f.is_locked(now)).and_then(|f| f.locked_until),
            session_mfa_at: actor.mfa_at,
            fresh_until: actor.mfa_at.filter(|_| self.mfa_fresh(actor)).map(|t| self.fresh_until(t)),
        })
    }

    /// Ten new recovery codes for the caller, replacing the old ones; needs a fresh MFA session.
    pub async fn regenerate_recovery_codes(&self, ctx: &Context) -> Result<Vec<String>> {
        let actor = self.actor(ctx)?.clone();
        let mut draft = self.draft(ctx, "mfa.recoveryCodesRegenerated");
        draft.principal_id = Some(actor.id);
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            if q::get_confirmed_totp_factor(tx.conn(), actor.id).await?.is_none() {
                return Err(not_enrolled().into());
            }
            if !self.mfa_fresh(&actor) {
                return refuse(
                    ErrorKind::MfaRequired,
                    "new recovery codes need a session that passed MFA recently: pim mfa verify first",
                );
            }
            let (codes, hashes) = self.new_recovery_codes(actor.id);
            q::replace_recovery_codes(tx.conn(), actor.id, &hashes, now).await?;
            let mut d = draft.clone();
            d.details = serde_json::json!({ "recoveryCodes": codes.len() });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(codes)
        })
        .await
    }

    /// Removes a user's MFA (factors and recovery codes) and forgets that their sessions passed
    /// it, e.g. after they lost their phone. Needs `pim.directory.write` at `/`.
    pub async fn reset_mfa(&self, ctx: &Context, principal: PrincipalId) -> Result<MfaReset> {
        let mut draft = self.draft(ctx, "mfa.reset");
        draft.principal_id = Some(principal);
        draft.scope = Some(ScopePath::root());
        self.audited(draft.clone(), async {
            self.authorize(ctx, pim_domain::actions::DIRECTORY_WRITE, &ScopePath::root())?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let p = q::get_principal(tx.conn(), principal)
                .await?
                .ok_or_else(|| DomainError::not_found(format!("user {principal}")))?;
            if p.kind != PrincipalKind::User {
                return Err(DomainError::not_found(format!("user {principal}")).into());
            }
            let factors = q::delete_totp_factors(tx.conn(), principal).await?;
            let recovery_codes = q::delete_recovery_codes(tx.conn(), principal).await?;
            let sessions = q::clear_tokens_mfa(tx.conn(), principal).await?;
            let mut d = draft.clone();
            d.details = serde_json::json!({
                "username": p.name,
                "factorsRemoved": factors,
                "recoveryCodesRemoved": recovery_codes,
                "sessionsCleared": sessions,
            });
            tx.audit(now, d).await?;
            tx.commit().await?;
            self.tokens.forget_principal(principal);
            Ok(MfaReset { factors, recovery_codes })
        })
        .await
    }
}

/// The QR code of `uri` as an SVG document.
fn qr_svg(uri: &str) -> Result<String> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| EngineError::Internal(format!("cannot make a QR code of the otpauth URI: {e}")))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, truncated to 6 digits.
    #[test]
    fn codes_follow_rfc_6238() {
        let g = totp(b"12345678901234567890".to_vec(), "alice").unwrap();
        for (unix, code) in [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924")] {
            assert_eq!(g.generate(unix), code);
            let now = Timestamp(unix as i64 * 1000);
            assert_eq!(matching_step(&g, code, now), Some(mfa::time_step(now)));
        }
        let now = Timestamp(1_111_111_109_000);
        let step = mfa::time_step(now);
        let at = |s: i64| g.generate(s as u64 * 30);
        assert_eq!(matching_step(&g, &at(step - 1), now), Some(step - 1), "one step early");
        assert_eq!(matching_step(&g, &at(step + 1), now), Some(step + 1), "one step late");
        assert_eq!(matching_step(&g, &at(step - 2), now), None, "two steps off");
        assert_eq!(matching_step(&g, &at(step + 2), now), None);
        assert_eq!(matching_step(&g, "12345", now), None);
    }

    #[test]
    fn otpauth_uris_name_the_issuer_and_the_account() {
        let g = totp(vec![0xAB; TOTP_SECRET_BYTES], "alice@example.com").unwrap();
        let uri = g.get_url();
        assert!(uri.starts_with("otpauth://totp/pim:alice%40example.com?secret="), "{uri}");
        assert!(uri.contains("&issuer=pim"), "{uri}");
        assert_eq!(g.get_secret_base32().len(), 32, "160 bits in base 32");
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }

    #[test]
    fn proofs_hide_their_codes_and_check_their_form() {
        assert_eq!(format!("{:?}", MfaProof::Totp("123456".into())), "totp");
        assert_eq!(MfaProof::Totp(" 123456".into()).normalized(), Ok(MfaProof::Totp("123456".into())));
        assert!(MfaProof::Totp("12345x".into()).normalized().is_err());
        assert_eq!(
            MfaProof::RecoveryCode("ABCDE-FGHJK".into()).normalized(),
            Ok(MfaProof::RecoveryCode("abcdefghjk".into()))
        );
        assert!(constant_time_eq(b"123456", b"123456"));
        assert!(!constant_time_eq(b"123456", b"123457"));
        assert!(!constant_time_eq(b"123456", b"12345"));
    }
}
