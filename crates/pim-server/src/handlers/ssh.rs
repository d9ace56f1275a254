//! SSH certificates: pim's CA public key (public, for `TrustedUserCAKeys`) and user certificates
//! for the caller's assignment in effect.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use pim_api::{IssueSshCertificate, Problem, SshCertificate};
use pim_engine::ssh::SshCertificateRequest;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json};

/// pim's SSH user CA public key, one OpenSSH line for a host's `TrustedUserCAKeys` (made on first
/// need). Public: it is a public key, and hosts fetch it without a token.
#[utoipa::path(get, path = "/api/v1/ssh/ca.pub", tag = "ssh",
    responses((status = 200, description = "the CA public key, one OpenSSH line", body = String, content_type = "text/plain")))]
pub async fn get_ssh_ca(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<impl IntoResponse> {
    let ca = s.engine.ssh_ca_public_key(&ctx).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{}\n", ca.public_key)))
}

/// Signs an OpenSSH user certificate of the caller's public key for one of its assignments in
/// effect: the principals of the role's settings, valid until the assignment ends (at most the
/// configured maximum). Audited.
#[utoipa::path(post, path = "/api/v1/ssh/certificates", tag = "ssh", security(("bearer" = [])),
    request_body = IssueSshCertificate,
    responses((status = 201, body = SshCertificate),
        (status = 400, description = "the public key is not an accepted OpenSSH key, or the scope is malformed", body = Problem),
        (status = 404, description = "no role has that id or name", body = Problem),
        (status = 409, description = "several assignments qualify (assignment_ambiguous): name the role and scope; or the caller is disabled", body = Problem),
        (status = 422, description = "no assignment in effect (not_active), or its role has no SSH principals (no_ssh_principals)", body = Problem)))]
pub async fn issue_ssh_certificate(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<IssueSshCertificate>,
) -> ApiResult<(StatusCode, Json<SshCertificate>)> {
    let req = SshCertificateRequest { public_key: body.public_key, role: body.role, scope: body.scope };
    let c = s.engine.issue_ssh_certificate(&ctx, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(SshCertificate {
            certificate: c.certificate,
            principals: c.principals,
            key_id: c.key_id,
            serial: c.serial,
            valid_after: c.valid_after,
            valid_before: c.valid_before,
            assignment_id: c.assignment_id,
            role_id: c.role_id,
            role_name: c.role_name,
            scope: c.scope,
            assignment_ends_at: c.grant_ends_at,
            public_key_fingerprint: c.public_key_fingerprint,
            ca_fingerprint: c.ca_fingerprint,
        }),
    ))
}
