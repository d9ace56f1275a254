//! Signed access tokens: the public JWKS and metadata, audiences, signing keys, introspection.

use serde_json::json;

use super::{Ep, Need, ep, req};
use crate::api_authz::grants::*;
use crate::api_authz::world::RowFx;

pub(super) fn rows(r: &RowFx) -> Vec<Ep> {
    use Need::*;
    let i = r.i;
    let mine = format!("/api/v1/audiences/aud{i}");
    vec![
        ep("GET", "/.well-known/jwks.json", "", "/.well-known/jwks.json", None, Public, 200),
        ep(
            "GET",
            "/.well-known/oauth-authorization-server",
            "",
            "/.well-known/oauth-authorization-server",
            None,
            Public,
            200,
        ),
        ep("GET", "/api/v1/audiences", "", "/api/v1/audiences", None, Act(TOKENS_READ), 200),
        ep("GET", "/api/v1/audiences/{idOrName}", "", "/api/v1/audiences/shared", None, Act(TOKENS_READ), 200),
        ep(
            "POST",
            "/api/v1/audiences",
            "",
            "/api/v1/audiences",
            req(json!({"name": format!("aud{i}"), "roles": ["Reader"], "lifetimeSecs": 600})),
            Act(TOKENS_WRITE),
            201,
        )
        .write(),
        ep(
            "PATCH",
            "/api/v1/audiences/{idOrName}",
            "",
            mine.clone(),
            req(json!({"lifetimeSecs": 300})),
            Act(TOKENS_WRITE),
            200,
        )
        .write(),
        ep("DELETE", "/api/v1/audiences/{idOrName}", "", mine, None, Act(TOKENS_WRITE), 204).write(),
        ep("GET", "/api/v1/keys", "", "/api/v1/keys", None, Act(TOKENS_READ), 200),
        ep("POST", "/api/v1/keys/rotate", "", "/api/v1/keys/rotate", None, Act(TOKENS_WRITE), 200).write(),
        ep(
            "POST",
            "/api/v1/tokens/introspect",
            "",
            "/api/v1/tokens/introspect",
            req(json!({"token": "e30.e30.e30"})),
            Act(TOKENS_READ),
            200,
        ),
    ]
}
