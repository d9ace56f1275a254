//! Typed-client calls the authorization tests make, and the checks that a call was refused.

use crate::harness::prelude::*;

/// An `adminAssign` request of `role` at `scope` to `principal`.
pub(crate) fn assign_req(principal: PrincipalId, role: RoleId, scope: &str, kind: AssignmentKind) -> CreateRequest {
    let mut r = CreateRequest::new(RequestAction::AdminAssign);
    r.principal_id = Some(principal);
    r.role_id = Some(role);
    r.scope = Some(sp(scope));
    r.kind = Some(kind);
    r.justification = Some("scoped".into());
    r
}

/// An `adminRemove` request of assignment `a`.
pub(crate) fn remove_req(a: AssignmentId) -> CreateRequest {
    CreateRequest::for_assignment(RequestAction::AdminRemove, a)
}

/// Asserts `call` is refused as `forbidden` and that the database did not change (failure audit
/// events aside); gives the snapshot taken before the call.
macro_rules! refused {
    ($db:expr, $what:expr, $call:expr) => {{
        let before = $db.snapshot().await;
        match $call.await {
            Ok(v) => panic!("{} must be refused (403), but succeeded: {v:?}", $what),
            Err(e) => assert_eq!(e.status(), Some(403), "{} must be refused with 403: {e}", $what),
        }
        let (changes, _) = $db.changes_since(&before).await;
        assert!(changes.is_empty(), "{} was refused but changed {changes:?}", $what);
        before
    }};
}
pub(crate) use refused;

/// Asserts `call` is a read refused as `forbidden`, that it changed nothing, and that the refusal
/// is in the audit history as `access.denied`.
macro_rules! read_refused {
    ($db:expr, $what:expr, $call:expr) => {{
        let before = $crate::hostile::refused!($db, $what, $call);
        let events = $db.events_since(&before).await;
        assert!(
            events.iter().any(|e| e.action == "access.denied"
                && e.outcome == "failure"
                && e.error_code.as_deref() == Some("forbidden")),
            "{} is not audited as access.denied: {events:?}",
            $what
        );
    }};
}
pub(crate) use read_refused;
