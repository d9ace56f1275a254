//! The [`Engine`]: the store, the access index and the clock, plus the helpers every use case
//! shares (authorization, audit drafts, recording refusals).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use pim_domain::{AuditDraft, DomainError, ErrorKind, PrincipalKind, ScopePath, Timestamp};
use pim_store::{Store, q};

use crate::auth::TokenCache;
use crate::clock::Clock;
use crate::context::{Actor, Context};
use crate::error::{EngineError, Result};
use crate::index::{AccessIndex, IndexBuild, IndexPrincipal};

/// Tunables of the engine.
#[derive(Clone)]
pub struct EngineOptions {
    /// Lifetime of a token issued by sign-in, in milliseconds.
    pub session_token_ms: i64,
    /// The root key of secrets at rest (TOTP seeds, recovery code hashes); see [`crate::secrets`].
    /// `pim serve` reads it from its key file; the default is a random key (fine for tests, but
    /// what it sealed cannot be read by another process).
    pub secret_key: [u8; 32],
    /// How long a session that passed MFA counts as fresh (is not asked again), in milliseconds.
    pub mfa_freshness_ms: i64,
    /// How notifications are delivered (SMTP, webhooks, retries).
    pub notifications: crate::notify::NotifyOptions,
    /// Audit events older than this many days are removed by the periodic job (`None`: kept for ever).
    pub audit_retention_days: Option<u32>,
    /// How often the background jobs evaluate the alert rules, in milliseconds (at most; `0` turns
    /// the scheduled evaluation off).
    pub alert_evaluation_ms: i64,
    /// The connectors that grant and revoke access in target systems (`[[connectors]]`).
    pub connectors: Vec<crate::connectors::ConnectorOptions>,
    /// How access tokens are signed (`[tokens]`).
    pub tokens: crate::tokens::TokenOptions,
    /// The longest lifetime of an SSH certificate, in milliseconds (`[ssh] max_certificate_hours`);
    /// a certificate also ends with the grant it relies on, whichever comes first.
    pub ssh_max_certificate_ms: i64,
    /// The OpenID Connect providers users sign in through (`[[oidc]]`).
    pub oidc: Vec<crate::oidc::OidcProviderOptions>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            session_token_ms: 12 * pim_domain::time::HOUR_MS,
            secret_key: crate::secrets::random_key(),
            mfa_freshness_ms: 15 * pim_domain::time::MINUTE_MS,
            notifications: crate::notify::NotifyOptions::default(),
            audit_retention_days: None,
            alert_evaluation_ms: 15 * pim_domain::time::MINUTE_MS,
            connectors: Vec::new(),
            tokens: crate::tokens::TokenOptions::default(),
            ssh_max_certificate_ms: crate::ssh::DEFAULT_MAX_CERTIFICATE_MS,
            oidc: Vec::new(),
        }
    }
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("session_token_ms", &self.session_token_ms)
            .field("secret_key", &"<redacted>")
            .field("mfa_freshness_ms", &self.mfa_freshness_ms)
            .field("notifications", &self.notifications)
            .field("audit_retention_days", &self.audit_retention_days)
            .field("alert_evaluation_ms", &self.alert_evaluation_ms)
            .field("connectors", &self.connectors)
            .field("tokens", &self.tokens)
            .field("ssh_max_certificate_ms", &self.ssh_max_certificate_ms)
            .field("oidc", &self.oidc)
            .finish()
    }
}

/// pim's use cases over one store.
#[derive(Clone)]
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) index: Arc<AccessIndex>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) tokens: Arc<TokenCache>,
    /// Seals TOTP seeds and hashes recovery codes.
    pub(crate) secrets: Arc<crate::secrets::SecretBox>,
    pub(crate) options: EngineOptions,
    /// The last change-feed entry this replica's index reflects.
    pub(crate) applied_seq: Arc<AtomicI64>,
    /// When this replica last followed the feed (or loaded its index), in ms.
    pub(crate) followed_at: Arc<AtomicI64>,
    /// When this replica last evaluated the alert rules, in ms (`i64::MIN`: never).
    pub(crate) alerts_evaluated_at: Arc<AtomicI64>,
    /// The connectors and their worker's wake-up.
    pub(crate) connectors: Arc<crate::connectors::Connectors>,
    /// When each connector last reconciled, in ms (by position in the list; `i64::MIN`: never).
    pub(crate) reconciled_at: Arc<Vec<AtomicI64>>,
    /// Whether each connector's last reconciliation could not list its target.
    pub(crate) reconcile_failed: Arc<Vec<std::sync::atomic::AtomicBool>>,
    /// Whether a connector was failing at its last look (set at start, so an alert left open by
    /// an earlier process is looked at once).
    pub(crate) connector_failing: Arc<std::sync::atomic::AtomicBool>,
    /// The OpenID Connect providers and their discovery.
    pub(crate) oidc: Arc<crate::oidc::Providers>,
    /// Self-activations and deactivations waiting to be written together (group commit).
    pub(crate) batch: Arc<crate::requests::batch::WriteBatch>,
    /// Serializes [`Engine::follow_changes`].
    pub(crate) follow_lock: Arc<tokio::sync::Mutex<()>>,
    /// Parsed signing keys of access tokens, by kid.
    pub(crate) signing: Arc<crate::tokens::KeyRing>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("assignments_indexed", &self.index.len()).finish()
    }
}

impl Engine {
    /// Builds the engine and loads the access index from the store.
    pub async fn open(store: Store, clock: Arc<dyn Clock>, options: EngineOptions) -> Result<Engine> {
        let connectors = crate::connectors::Connectors::build(&options.connectors)
            .map_err(|e| EngineError::Refused(DomainError::new(ErrorKind::InvalidInput, format!("connectors: {e}"))))?;
        let n = connectors.all().len();
        let oidc = crate::oidc::Providers::build(&options.oidc)
            .map_err(|e| EngineError::Refused(DomainError::new(ErrorKind::InvalidInput, e)))?;
        let reconciled_at = (0..n).map(|_| AtomicI64::new(i64::MIN)).collect();
        let engine = Engine {
            store,
            index: Arc::new(AccessIndex::new()),
            clock,
            tokens: Arc::new(TokenCache::default()),
            secrets: Arc::new(crate::secrets::SecretBox::new(&options.secret_key)),
            options,
            applied_seq: Arc::new(AtomicI64::new(0)),
            followed_at: Arc::new(AtomicI64::new(0)),
            alerts_evaluated_at: Arc::new(AtomicI64::new(i64::MIN)),
            connectors: Arc::new(connectors),
            reconcile_failed: Arc::new((0..n).map(|_| std::sync::atomic::AtomicBool::new(false)).collect()),
            reconciled_at: Arc::new(reconciled_at),
            connector_failing: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            follow_lock: Arc::new(tokio::sync::Mutex::new(())),
            batch: Arc::default(),
            signing: Arc::default(),
            oidc: Arc::new(oidc),
        };
        engine.reload_index().await?;
        Ok(engine)
    }

    /// Reloads the whole access index from the store.
    pub async fn reload_index(&self) -> Result<()> {
        let started = std::time::Instant::now();
        let now = self.now();
        // Read the feed position first: entries written while loading are applied again later, so
        // the reads below need not share one snapshot and run at once, each on its own connection
        // of the backend's native driver (`pim_store::index_load`; at start-up with a million
        // assignments, reading is most of the time).
        let seq = q::last_change_seq(&mut *self.store.read().await?).await?;
        fn timed(since: std::time::Instant) -> u64 {
            u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
        }
        // Spawned, so that decoding the rows runs on every worker thread, not in turn on one.
        let store = self.store.clone();
        let principals = tokio::spawn(async move {
            let t = std::time::Instant::now();
            let principals: Vec<IndexPrincipal> = store
                .principals_for_index()
                .await?
                .into_iter()
                .map(|p| IndexPrincipal { id: p.id, kind: p.kind, name: p.name, enabled: p.enabled })
                .collect();
            Ok::<_, EngineError>((principals, timed(t)))
        });
        let store = self.store.clone();
        let memberships = tokio::spawn(async move {
            let t = std::time::Instant::now();
            let memberships = store.memberships_for_index().await?;
            let roles = q::list_roles(&mut *store.read().await?).await?;
            Ok::<_, EngineError>((memberships, roles, timed(t)))
        });
        // The assignments (nearly all the rows) in chunks, one per core, each on a connection of
        // the backend's native driver, merged in id order (`pim_store::index_load`).
        let store = self.store.clone();
        let chunks = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let assignments = tokio::spawn(async move {
            let t = std::time::Instant::now();
            let assignments = store.current_assignments_for_index(now, chunks).await?;
            Ok::<_, EngineError>((assignments, timed(t)))
        });
        fn joined<T>(r: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
            r.map_err(|e| EngineError::Internal(format!("loading the access index: {e}")))?
        }
        // While the assignments are read, the principals, memberships and roles go into the new
        // index (the first step of its build), off the runtime's worker threads.
        let base = tokio::spawn(async move {
            let (principals, principals_ms) = joined(principals.await)?;
            let (memberships, roles, memberships_ms) = joined(memberships.await)?;
            let counts = (principals.len(), memberships.len());
            let t = std::time::Instant::now();
            let base = tokio::task::spawn_blocking(move || IndexBuild::new(principals, memberships, roles))
                .await
                .map_err(|e| EngineError::Internal(format!("building the access index: {e}")))?;
            Ok::<_, EngineError>((base, counts, principals_ms, memberships_ms, timed(t)))
        });
        let (assignments, assignments_ms) = joined(assignments.await)?;
        let (base, (principal_count, membership_count), principals_ms, memberships_ms, base_ms) = joined(base.await)?;
        let read_ms = timed(started);
        let assignment_count = assignments.len();
        // The rest of the build (every assignment, each principal's entries and closure) on every
        // core; the index is the one a build on one thread makes (`IndexBuild::finish`).
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let built = tokio::task::spawn_blocking(move || base.finish(assignments, threads))
            .await
            .map_err(|e| EngineError::Internal(format!("building the access index: {e}")))?;
        self.index.install(built);
        tracing::info!(
            principals = principal_count,
            memberships = membership_count,
            assignments = assignment_count,
            principals_ms,
            memberships_ms,
            assignments_ms,
            base_ms,
            read_ms,
            build_ms = timed(started) - read_ms,
            "access index loaded"
        );
        self.applied_seq.store(seq, Ordering::SeqCst);
        self.followed_at.store(now.0, Ordering::SeqCst);
        Ok(())
    }

    /// The current time according to the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The access index (read-only use by the server, e.g. for `/metrics`).
    pub fn index(&self) -> &AccessIndex {
        &self.index
    }

    /// The store (the server's readiness probe uses it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The caller, or `unauthenticated`.
    pub(crate) fn actor<'a>(&self, ctx: &'a Context) -> Result<&'a Actor> {
        ctx.actor
            .as_ref()
            .ok_or_else(|| EngineError::Refused(DomainError::new(ErrorKind::Unauthenticated, "sign in first")))
    }

    /// Whether the caller may perform `action` at `scope` now, by pim's own roles.
    pub fn allowed(&self, ctx: &Context, action: &str, scope: &ScopePath) -> bool {
        match &ctx.actor {
            Some(a) => self.index.check(a.id, action, scope.as_str(), self.now()).allowed,
            None => false,
        }
    }

    /// The scopes at which the caller holds an assignment in effect that allows `action` there
    /// (directly or through a group), most general first: where it may act, for the portal's menus
    /// and forms. Empty when it may not anywhere.
    pub fn scopes_allowing(&self, ctx: &Context, action: &str) -> Vec<ScopePath> {
        let Some(a) = &ctx.actor else { return Vec::new() };
        let now = self.now();
        let mut out: Vec<ScopePath> = self
            .index
            .effective(a.id, now)
            .into_iter()
            .filter(|g| self.index.check(a.id, action, &g.scope, now).allowed)
            .filter_map(|g| ScopePath::parse(&g.scope).ok())
            .collect();
        out.sort_by_key(|s| (s.depth(), s.as_str().to_owned()));
        out.dedup();
        out
    }

    /// Whether the caller holds, anywhere, an assignment in effect that allows one of `actions` at
    /// its scope (one walk of its grants, for the portal's menu on every page).
    pub fn allowed_anywhere(&self, ctx: &Context, actions: &[&str]) -> bool {
        let Some(a) = &ctx.actor else { return false };
        let now = self.now();
        self.index
            .effective(a.id, now)
            .iter()
            .any(|g| actions.iter().any(|action| self.index.check(a.id, action, &g.scope, now).allowed))
    }

    /// Refuses with `forbidden` unless the caller may perform `action` at `scope`.
    pub(crate) fn authorize(&self, ctx: &Context, action: &str, scope: &ScopePath) -> Result<()> {
        let actor = self.actor(ctx)?;
        if self.index.check(actor.id, action, scope.as_str(), self.now()).allowed {
            Ok(())
        } else {
            Err(EngineError::Refused(DomainError::new(
                ErrorKind::Forbidden,
                format!("{} lacks the permission {action} at {scope}", actor.name),
            )))
        }
    }

    /// Like [`Engine::authorize`], for reads: a refusal is recorded in the audit history as
    /// `access.denied` (writes record theirs under their own action through [`Engine::audited`]).
    pub(crate) async fn authorize_read(&self, ctx: &Context, action: &str, scope: &ScopePath) -> Result<()> {
        match self.authorize(ctx, action, scope) {
            Err(EngineError::Refused(e)) if e.kind == ErrorKind::Forbidden => {
                let mut d = self.draft(ctx, "access.denied");
                d.scope = Some(scope.clone());
                d.details = serde_json::json!({ "action": action });
                self.record_refusal(d, &e).await?;
                Err(e.into())
            }
            other => other,
        }
    }

    /// An audit draft for `action`, filled with who and where from the context.
    pub(crate) fn draft(&self, ctx: &Context, action: &str) -> AuditDraft {
        AuditDraft {
            action: action.to_owned(),
            actor_id: ctx.actor.as_ref().map(|a| a.id).filter(|id| *id != pim_domain::PrincipalId::SYSTEM),
            actor_name: ctx.actor.as_ref().map(|a| a.name.clone()),
            http_request_id: ctx.http_request_id.clone(),
            client_addr: ctx.client_addr.clone(),
            details: serde_json::Value::Null,
            ..AuditDraft::default()
        }
    }

    /// Runs a use case; when it is refused, writes the refusal as a failure audit event
    /// (in a transaction of its own, so nothing else of the refused change is kept).
    pub(crate) async fn audited<T>(
        &self,
        draft: AuditDraft,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let result = work.await;
        if let Err(EngineError::Refused(e)) = &result {
            self.record_refusal(draft, e).await?;
        }
        result
    }

    /// Writes a failure audit event for a request refused outside the engine (e.g. a wrong setup secret).
    pub async fn record_refused(&self, ctx: &Context, action: &str, e: &DomainError) -> Result<()> {
        self.record_refusal(self.draft(ctx, action), e).await
    }

    /// Writes a failure audit event for a refused request.
    pub(crate) async fn record_refusal(&self, mut draft: AuditDraft, e: &DomainError) -> Result<()> {
        let now = self.now();
        draft.error_code = Some(e.code().to_owned());
        if draft.details.is_null() {
            draft.details = serde_json::json!({ "message": e.message });
        } else if let Some(obj) = draft.details.as_object_mut() {
            obj.insert("message".into(), serde_json::Value::String(e.message.clone()));
        }
        let mut tx = self.store.write(now).await?;
        tx.audit(now, draft).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What the index keeps of a principal.
pub(crate) fn index_principal(p: &pim_domain::Principal) -> IndexPrincipal {
    IndexPrincipal { id: p.id, kind: p.kind, name: p.name.clone(), enabled: p.enabled }
}

/// Whether the kind can sign in and hold tokens.
pub(crate) fn can_authenticate(kind: PrincipalKind) -> bool {
    matches!(kind, PrincipalKind::User | PrincipalKind::ServicePrincipal)
}
