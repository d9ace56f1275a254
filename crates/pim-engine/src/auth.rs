//! Setup of the first administrator, sign-in with a password (argon2id), and API tokens
//! (random secrets stored as SHA-256 hashes, with a short-lived in-memory cache).

use std::collections::HashMap;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use parking_lot::Mutex;
use pim_domain::role::GLOBAL_ADMINISTRATOR;
use pim_domain::time::DAY_MS;
use pim_domain::{
    ApiToken, Assignment, AssignmentId, AssignmentKind, ErrorKind, Principal, PrincipalId, PrincipalKind, Request,
    RequestAction, RequestId, RequestStatus, ScopePath, Timestamp, TokenId, Window,
};
use pim_store::q;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::context::{Actor, Context};
use crate::engine::{Engine, can_authenticate, index_principal};
use crate::error::{EngineError, Result, refuse};
use crate::follow::Change;
use crate::lockout::{LOCKOUT_WINDOW_MS, sign_in_succeeded};

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted (argon2 cost is bounded by it).
pub const MAX_PASSWORD_LEN: usize = 1024;
/// How long a cached token lookup is trusted, in milliseconds (other replicas' revocations show within it).
const TOKEN_CACHE_MS: i64 = 1_000;
/// How often a token's `lastUsedAt` is written at most, in milliseconds.
const TOUCH_EVERY_MS: i64 = pim_domain::time::MINUTE_MS;
/// Prefix of every pim API token.
pub const TOKEN_PREFIX: &str = "pim_";

/// Checks a password's length.
pub fn validate_password(p: &str) -> Result<()> {
    if p.chars().count() < MIN_PASSWORD_LEN || p.len() > MAX_PASSWORD_LEN {
        return refuse(
            ErrorKind::InvalidInput,
            format!("a password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters long"),
        );
    }
    Ok(())
}

/// Hashes a password with argon2id (on a blocking thread: it is deliberately slow).
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(|e| EngineError::Internal(e.to_string()))?
    .map_err(|e| EngineError::Internal(e.to_string()))
}

/// Verifies a password against a stored argon2 hash.
async fn verify_password(password: String, hash: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .map_err(|e| EngineError::Internal(e.to_string()))?
    .map_err(|e| EngineError::Internal(e.to_string()))
}

/// A hash to verify against when the user does not exist, so timing does not tell.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0wjX5Jp0cFNh8XMcX9mbtJ2fJ9Iw3ZbFv3Tj1+2vDxQ";

/// SHA-256 (hex) of a token secret: what the store keeps.
pub fn token_hash(secret: &str) -> String {
    TokenHash::of(secret).as_str().to_owned()
}

/// [`token_hash`] on the stack: what each authenticated request looks its token up by, without
/// an allocation.
#[derive(Clone, Copy)]
struct TokenHash([u8; 64]);

impl TokenHash {
    fn of(secret: &str) -> TokenHash {
        let mut hex = [0u8; 64];
        // 32 bytes of digest always fill 64 hex digits.
        let _ = hex::encode_to_slice(Sha256::digest(secret.as_bytes()), &mut hex);
        TokenHash(hex)
    }
    fn as_str(&self) -> &str {
        // Hex digits are ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A one-time setup secret (printed by `pim serve` on an empty database): 128 random bits in hex,
/// so it never starts with `-` and copies cleanly from a terminal.
pub fn new_setup_secret() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[derive(Clone, Debug)]
struct CachedToken {
    /// Shared with the requests that found it (a lookup copies no name); a change to the cached
    /// copy replaces it (`Arc::make_mut`), so a request goes on with what it read.
    token: Arc<ApiToken>,
    cached_at: Timestamp,
}

/// Recently verified tokens, keyed by hash.
#[derive(Debug, Default)]
pub struct TokenCache(Mutex<HashMap<String, CachedToken>>);

impl TokenCache {
    fn get(&self, hash: &str, now: Timestamp) -> Option<Arc<ApiToken>> {
        let map = self.0.lock();
        map.get(hash)
            .filter(|c| now.0 - c.cached_at.0 < TOKEN_CACHE_MS && c.cached_at <= now)
            .map(|c| Arc::clone(&c.token))
    }
    fn put(&self, hash: String, token: Arc<ApiToken>, now: Timestamp) {
        let mut map = self.0.lock();
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert(hash, CachedToken { token, cached_at: now });
    }
    fn mark_used(&self, hash: &str, now: Timestamp) {
        if let Some(c) = self.0.lock().get_mut(hash) {
            Arc::make_mut(&mut c.token).last_used_at = Some(now);
        }
    }
    fn forget(&self, id: TokenId) {
        self.0.lock().retain(|_, c| c.token.id != id);
    }
    /// Records in the cached copy that the token's session passed MFA at `at`, so the next call
    /// with it sees that at once.
    pub(crate) fn set_mfa(&self, id: TokenId, at: Timestamp) {
        for c in self.0.lock().values_mut().filter(|c| c.token.id == id) {
            Arc::make_mut(&mut c.token).mfa_at = Some(at);
        }
    }
    /// Forgets every cached token of `principal`.
    pub(crate) fn forget_principal(&self, principal: PrincipalId) {
        self.0.lock().retain(|_, c| c.token.principal_id != principal);
    }
}

/// A token just issued: the secret (shown once) and its metadata.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// The bearer secret.
    pub secret: String,
    /// What is stored about it.
    pub info: ApiToken,
}

/// The first account's details.
#[derive(Clone, Debug)]
pub struct NewAdmin {
    /// User name.
    pub username: String,
    /// Password (argon2id-hashed before storing).
    pub password: String,
    /// Display name (defaults to the user name).
    pub display_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
}

impl Engine {
    /// Whether the server has no account yet.
    pub async fn setup_required(&self) -> Result<bool> {
        let mut c = self.store.read().await?;
        Ok(q::count_principals(&mut c).await? == 0)
    }

    /// Creates the first account as a permanent active Global Administrator at `/`.
    /// Refused (`setup_completed`) once any principal exists.
    pub async fn bootstrap(&self, ctx: &Context, admin: NewAdmin) -> Result<Principal> {
        let mut draft = self.draft(ctx, "setup.bootstrap");
        draft.scope = Some(ScopePath::root());
        draft.role_id = Some(GLOBAL_ADMINISTRATOR);
        self.audited(draft.clone(), async {
            pim_domain::principal::validate_name(&admin.username)?;
            validate_password(&admin.password)?;
            let hash = hash_password(admin.password.clone()).await?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            if q::count_principals(tx.conn()).await? > 0 {
                return refuse(ErrorKind::SetupCompleted, "setup is complete: an account already exists");
            }
            let user = Principal {
                id: PrincipalId::new(),
                kind: PrincipalKind::User,
                name: admin.username.clone(),
                display_name: admin.display_name.clone().unwrap_or_else(|| admin.username.clone()),
                email: admin.email.clone(),
                description: None,
                manager_id: None,
                enabled: true,
                emergency_access: false,
                last_sign_in_at: None,
                created_at: now,
                updated_at: now,
            };
            q::insert_principal(tx.conn(), &user).await?;
            q::set_password_hash(tx.conn(), user.id, &hash, now).await?;
            let request = Request {
                id: RequestId::new(),
                action: RequestAction::AdminAssign,
                status: RequestStatus::Provisioned,
                principal_id: user.id,
                role_id: GLOBAL_ADMINISTRATOR,
                scope: ScopePath::root(),
                kind: AssignmentKind::Active,
                window: Window::permanent_from(now),
                requested_by: user.id,
                justification: Some("bootstrap: first account".into()),
                ticket: None,
                target_assignment: None,
                eligibility: None,
                created_at: now,
                updated_at: now,
                status_reason: None,
                duration_minutes: None,
                break_glass: false,
                approval: None,
                requester_name: None,
            };
            let assignment = Assignment {
                id: AssignmentId::new(),
                principal_id: user.id,
                principal_kind: PrincipalKind::User,
                role_id: GLOBAL_ADMINISTRATOR,
                scope: ScopePath::root(),
                kind: AssignmentKind::Active,
                window: Window::permanent_from(now),
                activated_from: None,
                created_by_request: request.id,
                created_at: now,
                ended_early_at: None,
            };
            let request = Request { target_assignment: Some(assignment.id), ..request };
            q::insert_request(tx.conn(), &request).await?;
            q::insert_assignment(tx.conn(), &assignment).await?;
            let mut d = draft.clone();
            d.actor_id.get_or_insert(user.id);
            d.actor_name.get_or_insert(user.name.clone());
            d.principal_id = Some(user.id);
            d.request_id = Some(request.id);
            d.justification = request.justification.clone();
            d.details = serde_json::json!({ "assignmentId": assignment.id, "username": user.name });
            tx.audit(now, d).await?;
            self.record_changes(
                &mut tx,
                now,
                &[Change::Principal(user.id), Change::Assignment(assignment.id, assignment.principal_id)],
            )
            .await?;
            tx.commit().await?;
            self.index.upsert_principal(index_principal(&user));
            self.index.upsert_assignment(&assignment);
            Ok(user)
        })
        .await
    }

    /// Signs a user in with a password and issues a session token. With `otp` (a TOTP code of the
    /// user's confirmed factor) the session has passed MFA from the start; a wrong code fails the
    /// sign-in and counts toward the factor's lockout.
    pub async fn login(
        &self,
        ctx: &Context,
        username: &str,
        password: &str,
        token_name: Option<String>,
        otp: Option<String>,
    ) -> Result<(IssuedToken, Principal)> {
        self.login_for(ctx, username, password, token_name, otp, self.options.session_token_ms).await
    }

    /// [`Engine::login`] with a session lifetime of `lifetime_ms` (the portal's absolute timeout).
    pub async fn login_for(
        &self,
        ctx: &Context,
        username: &str,
        password: &str,
        token_name: Option<String>,
        otp: Option<String>,
        lifetime_ms: i64,
    ) -> Result<(IssuedToken, Principal)> {
        let mut draft = self.draft(ctx, "auth.signIn");
        draft.details = serde_json::json!({ "username": username });
        let otp = match otp.as_deref().map(pim_domain::mfa::parse_totp_code).transpose() {
            Ok(otp) => otp,
            Err(e) => {
                self.record_refusal(draft, &e).await?;
                return Err(e.into());
            }
        };
        let now = self.now();
        if self.sign_in_locked(username, now).await? {
            let e = pim_domain::DomainError::new(
                ErrorKind::TooManyAttempts,
                format!(
                    "too many failed sign-ins for this user name; try again in {} minutes",
                    LOCKOUT_WINDOW_MS / 60_000
                ),
            );
            self.record_refusal(draft, &e).await?;
            return Err(e.into());
        }
        let mut c = self.store.read().await?;
        let principal = q::get_principal_by_name(&mut c, username).await?;
        let stored = match &principal {
            Some(p) if p.kind == PrincipalKind::User => q::get_password_hash(&mut c, p.id).await?,
            _ => None,
        };
        drop(c);
        let ok = match (&principal, stored) {
            (Some(p), Some(hash)) => verify_password(password.to_owned(), hash).await? && p.enabled,
            _ => {
                let _ = verify_password(password.to_owned(), DUMMY_HASH.to_owned()).await;
                false
            }
        };
        let Some(mut user) = principal.clone().filter(|_| ok) else {
            if let Some(p) = &principal {
                draft.principal_id = Some(p.id);
            }
            self.sign_in_failed(username, principal.is_some(), now).await?;
            let e = pim_domain::DomainError::new(ErrorKind::InvalidCredentials, "wrong user name or password");
            self.record_refusal(draft, &e).await?;
            return Err(e.into());
        };
        draft.actor_id = Some(user.id);
        draft.actor_name = Some(user.name.clone());
        draft.principal_id = Some(user.id);
        let name = token_name.unwrap_or_else(|| "sign-in".to_owned());
        let expires = now.plus_millis(lifetime_ms);
        let mut tx = self.store.write(now).await?;
        sign_in_succeeded(tx.conn(), username).await?;
        let mut mfa_at = None;
        if let Some(code) = otp {
            if let Err(e) = self.sign_in_mfa(&mut tx, &draft, user.id, &code, now).await? {
                let mut d = crate::mfa::failure(draft, &e);
                d.details["mfa"] = serde_json::Value::Bool(true);
                tx.audit(now, d).await?;
                tx.commit().await?;
                return Err(e.into());
            }
            mfa_at = Some(now);
        }
        user.last_sign_in_at = Some(now);
        q::update_principal(tx.conn(), &user).await?;
        let issued = issue_token(tx.conn(), user.id, name, now, expires, mfa_at).await?;
        draft.details =
            serde_json::json!({ "username": user.name, "tokenId": issued.info.id, "mfa": mfa_at.is_some() });
        tx.audit(now, draft).await?;
        if user.emergency_access {
            self.emergency_sign_in(&mut tx, now, &user).await?;
        }
        tx.commit().await?;
        Ok((issued, user))
    }

    /// Resolves a bearer token to its principal, or `unauthenticated`.
    pub async fn authenticate(&self, secret: &str) -> Result<Actor> {
        self.authenticate_touching(secret, false).await
    }

    /// [`Engine::authenticate`]; with `wait`, the token's use is written before answering (sessions
    /// whose idle time is measured from it), else in the background.
    async fn authenticate_touching(&self, secret: &str, wait: bool) -> Result<Actor> {
        let now = self.now();
        let unauthenticated = || {
            EngineError::Refused(pim_domain::DomainError::new(
                ErrorKind::Unauthenticated,
                "the token is invalid, expired or revoked",
            ))
        };
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 100 {
            return Err(unauthenticated());
        }
        let hash = TokenHash::of(secret);
        let hash = hash.as_str();
        let token = match self.tokens.get(hash, now) {
            Some(t) => t,
            None => {
                let mut c = self.store.read().await?;
                let Some(t) = q::get_token_by_hash(&mut c, hash).await? else { return Err(unauthenticated()) };
                let t = Arc::new(t);
                self.tokens.put(hash.to_owned(), Arc::clone(&t), now);
                t
            }
        };
        if !token.is_valid(now) {
            return Err(unauthenticated());
        }
        if token.last_used_at.is_none_or(|t| now.0 - t.0 >= TOUCH_EVERY_MS) {
            if wait {
                self.tokens.mark_used(hash, now);
                q::touch_token(&mut *self.store.read().await?, token.id, now).await?;
            } else {
                self.touch(hash, &token, now);
            }
        }
        let p = self.index.principal(token.principal_id).filter(|p| p.enabled).ok_or_else(unauthenticated)?;
        Ok(Actor { id: p.id, kind: p.kind, name: p.name, token_id: Some(token.id), mfa_at: token.mfa_at })
    }

    /// Resolves a portal session's token like [`Engine::authenticate`], and also ends it when it was
    /// not used for `idle_ms` (the portal's idle timeout): the token is revoked and the call is
    /// `unauthenticated`. The idle time is exact to the minute (a use is recorded, before the
    /// answer, at most once a minute).
    pub async fn authenticate_session(&self, secret: &str, idle_ms: i64) -> Result<Actor> {
        let now = self.now();
        let hash = TokenHash::of(secret);
        let hash = hash.as_str();
        let token = match self.tokens.get(hash, now) {
            Some(t) => Some(t),
            None if secret.starts_with(TOKEN_PREFIX) && secret.len() <= 100 => {
                let t = q::get_token_by_hash(&mut *self.store.read().await?, hash).await?.map(Arc::new);
                // Cached, so `authenticate` below does not read it again.
                if let Some(t) = &t {
                    self.tokens.put(hash.to_owned(), Arc::clone(t), now);
                }
                t
            }
            None => None,
        };
        // Checked before `authenticate` records this use.
        if let Some(token) = token.filter(|t| t.is_valid(now)) {
            let last = token.last_used_at.unwrap_or(token.created_at);
            if now.0 - last.0 > idle_ms {
                let mut tx = self.store.write(now).await?;
                q::revoke_token(tx.conn(), token.id, now).await?;
                let d = pim_domain::AuditDraft {
                    action: "auth.sessionExpired".into(),
                    principal_id: Some(token.principal_id),
                    details: serde_json::json!({ "tokenId": token.id, "idleMinutes": (now.0 - last.0) / 60_000 }),
                    ..pim_domain::AuditDraft::default()
                };
                tx.audit(now, d).await?;
                tx.commit().await?;
                self.tokens.forget(token.id);
                return Err(EngineError::Refused(pim_domain::DomainError::new(
                    ErrorKind::Unauthenticated,
                    "the session ended after a time without use; sign in again",
                )));
            }
        }
        self.authenticate_touching(secret, true).await
    }

    /// The anti-forgery token of a session: a keyed hash of its token's id, so it needs no storage
    /// and changes with every session.
    pub fn session_csrf(&self, token: TokenId) -> String {
        self.secrets.keyed_hash(format!("csrf:{token}").as_bytes())
    }

    /// The anti-forgery token of a form shown before sign-in, bound to a random value kept in a
    /// cookie (`nonce`).
    pub fn presession_csrf(&self, nonce: &str) -> String {
        self.secrets.keyed_hash(format!("presession:{nonce}").as_bytes())
    }

    /// Records a token's use in the background (at most once a minute per token; not audited).
    fn touch(&self, hash: &str, token: &ApiToken, now: Timestamp) {
        self.tokens.mark_used(hash, now);
        let store = self.store.clone();
        let token = token.id;
        tokio::spawn(async move {
            if let Ok(mut c) = store.read().await
                && let Err(e) = q::touch_token(&mut c, token, now).await
            {
                tracing::debug!(error = %e, "could not record a token's use");
            }
        });
    }

    /// Revokes the token the caller used.
    pub async fn logout(&self, ctx: &Context) -> Result<()> {
        let actor = self.actor(ctx)?;
        let Some(id) = actor.token_id else { return Ok(()) };
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        q::revoke_token(tx.conn(), id, now).await?;
        let mut d = self.draft(ctx, "auth.signOut");
        d.principal_id = Some(actor.id);
        d.details = serde_json::json!({ "tokenId": id });
        tx.audit(now, d).await?;
        tx.commit().await?;
        self.tokens.forget(id);
        Ok(())
    }

    /// Issues a token for the caller or, with `pim.tokens.write`, for another principal.
    pub async fn create_token(
        &self,
        ctx: &Context,
        principal: Option<PrincipalId>,
        name: String,
        expires_in_days: Option<u32>,
    ) -> Result<IssuedToken> {
        let actor = self.actor(ctx)?.clone();
        let target = principal.unwrap_or(actor.id);
        let mut draft = self.draft(ctx, "token.create");
        draft.principal_id = Some(target);
        self.audited(draft.clone(), async {
            if target != actor.id {
                self.authorize(ctx, pim_domain::actions::TOKENS_WRITE, &ScopePath::root())?;
            }
            let days = expires_in_days.unwrap_or(30);
            if !(1..=365).contains(&days) {
                return refuse(ErrorKind::InvalidInput, "expiresInDays must be between 1 and 365");
            }
            if name.trim().is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
                return refuse(ErrorKind::InvalidInput, "a token name must be 1-100 printable characters");
            }
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let p = q::get_principal(tx.conn(), target)
                .await?
                .ok_or_else(|| pim_domain::DomainError::not_found(format!("principal {target}")))?;
            if !can_authenticate(p.kind) {
                return refuse(ErrorKind::InvalidInput, "only users and service principals hold tokens");
            }
            if !p.enabled {
                return refuse(ErrorKind::PrincipalDisabled, format!("{} is disabled", p.name));
            }
            let issued =
                issue_token(tx.conn(), target, name.clone(), now, now.plus_millis(i64::from(days) * DAY_MS), None)
                    .await?;
            let mut d = draft.clone();
            d.details =
                serde_json::json!({ "tokenId": issued.info.id, "name": name, "expiresAt": issued.info.expires_at });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(issued)
        })
        .await
    }

    /// Lists the caller's tokens or, with `pim.tokens.read`, another principal's.
    pub async fn list_tokens(&self, ctx: &Context, principal: Option<PrincipalId>) -> Result<Vec<ApiToken>> {
        let actor = self.actor(ctx)?;
        let target = principal.unwrap_or(actor.id);
        if target != actor.id {
            self.authorize_read(ctx, pim_domain::actions::TOKENS_READ, &ScopePath::root()).await?;
        }
        let mut c = self.store.read().await?;
        Ok(q::list_tokens(&mut c, Some(target)).await?)
    }

    /// Revokes a token: the caller's own, or any with `pim.tokens.write`.
    pub async fn revoke_token(&self, ctx: &Context, id: TokenId) -> Result<()> {
        let actor = self.actor(ctx)?.clone();
        let mut draft = self.draft(ctx, "token.revoke");
        draft.details = serde_json::json!({ "tokenId": id });
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let t = q::get_token(tx.conn(), id)
                .await?
                .ok_or_else(|| pim_domain::DomainError::not_found(format!("token {id}")))?;
            if t.principal_id != actor.id {
                self.authorize(ctx, pim_domain::actions::TOKENS_WRITE, &ScopePath::root())?;
            }
            q::revoke_token(tx.conn(), id, now).await?;
            let mut d = draft.clone();
            d.principal_id = Some(t.principal_id);
            tx.audit(now, d).await?;
            tx.commit().await?;
            self.tokens.forget(id);
            Ok(())
        })
        .await
    }
}

pub(crate) async fn issue_token(
    c: &mut pim_store::AnyConnection,
    principal: PrincipalId,
    name: String,
    now: Timestamp,
    expires_at: Timestamp,
    mfa_at: Option<Timestamp>,
) -> Result<IssuedToken> {
    let secret = new_secret();
    let info = ApiToken {
        id: TokenId::new(),
        principal_id: principal,
        name,
        created_at: now,
        expires_at,
        revoked_at: None,
        last_used_at: None,
        mfa_at,
    };
    q::insert_token(c, &info, &token_hash(&secret)).await?;
    Ok(IssuedToken { secret, info })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), h.clone()).await.expect("verify"));
        assert!(!verify_password("wrong horse".into(), h).await.expect("verify"));
        assert!(!verify_password("x".into(), DUMMY_HASH.into()).await.expect("dummy parses"));
    }

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
        // The stack copy each request looks up by is the stored hex of SHA-256.
        assert_eq!(TokenHash::of(&a).as_str(), hex::encode(Sha256::digest(a.as_bytes())));
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
        let s = new_setup_secret();
        assert_eq!(s.len(), 32);
        assert!(s.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
