//! TOTP MFA: the caller's status, enrollment and confirmation, new recovery codes, passing MFA for
//! the session, and an administrator's reset of a user's MFA.

use axum::extract::State;
use axum::http::StatusCode;
use pim_api::{
    ConfirmTotp, MfaConfirmed, MfaStatus, MfaVerified, PrincipalId, Problem, RecoveryCodes, TotpEnrollment, VerifyMfa,
};
use pim_domain::DomainError;
use pim_engine::mfa::MfaProof;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Path};

/// The caller's MFA: authenticator, recovery codes, lock, and this session's freshness.
#[utoipa::path(get, path = "/api/v1/me/mfa", tag = "mfa", security(("bearer" = [])),
    responses((status = 200, body = MfaStatus), (status = 401, body = Problem)))]
pub async fn get_mfa(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<MfaStatus>> {
    let m = s.engine.mfa_status(&ctx).await?;
    Ok(Json(MfaStatus {
        enrolled: m.confirmed_at.is_some(),
        confirmed_at: m.confirmed_at,
        pending_since: m.pending_since,
        recovery_codes_left: m.recovery_codes_left,
        locked_until: m.locked_until,
        session_mfa_at: m.session_mfa_at,
        fresh: m.fresh_until.is_some(),
        fresh_until: m.fresh_until,
    }))
}

/// Enrolls a TOTP authenticator: answers its secret, `otpauth://` URI and QR code (shown once).
/// It waits for its first code (`POST /api/v1/me/mfa/totp/confirm`); enrolling again replaces a
/// waiting one. With a confirmed authenticator the session must have passed MFA recently.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp", tag = "mfa", security(("bearer" = [])),
    responses((status = 201, body = TotpEnrollment), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 422, body = Problem)))]
pub async fn enroll_totp(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<(StatusCode, Json<TotpEnrollment>)> {
    let e = s.engine.enroll_totp(&ctx).await?;
    Ok((
        StatusCode::CREATED,
        Json(TotpEnrollment {
            secret: e.secret_base32,
            otpauth_uri: e.otpauth_uri,
            qr_svg: e.qr_svg,
            enrolled_at: e.enrolled_at,
            replaces_confirmed: e.replaces_confirmed,
        }),
    ))
}

/// Confirms the waiting authenticator with its first code: answers ten recovery codes (shown
/// once), and this session has passed MFA.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp/confirm", tag = "mfa", security(("bearer" = [])),
    request_body = ConfirmTotp,
    responses((status = 200, body = MfaConfirmed), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn confirm_totp(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<ConfirmTotp>,
) -> ApiResult<Json<MfaConfirmed>> {
    let c = s.engine.confirm_totp(&ctx, &body.code).await?;
    Ok(Json(MfaConfirmed { recovery_codes: c.recovery_codes, mfa_at: c.mfa_at, fresh_until: c.fresh_until }))
}

/// Ten new recovery codes (shown once); the old ones stop working. The session must have passed
/// MFA recently.
#[utoipa::path(post, path = "/api/v1/me/mfa/recovery-codes", tag = "mfa", security(("bearer" = [])),
    responses((status = 200, body = RecoveryCodes), (status = 401, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn regenerate_recovery_codes(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<RecoveryCodes>> {
    Ok(Json(RecoveryCodes { recovery_codes: s.engine.regenerate_recovery_codes(&ctx).await? }))
}

/// Passes MFA for this session with a TOTP code or a recovery code. A code works once; five
/// wrong ones lock MFA for 15 minutes (`429 too_many_attempts`).
#[utoipa::path(post, path = "/api/v1/auth/mfa", tag = "mfa", security(("bearer" = [])), request_body = VerifyMfa,
    responses((status = 200, body = MfaVerified), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn verify_mfa(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<VerifyMfa>,
) -> ApiResult<Json<MfaVerified>> {
    let proof = match (body.code, body.recovery_code) {
        (Some(c), None) => MfaProof::Totp(c),
        (None, Some(c)) => MfaProof::RecoveryCode(c),
        _ => {
            let e = DomainError::invalid("send exactly one of 'code' and 'recoveryCode'");
            s.engine.record_refused(&ctx, "mfa.verify", &e).await?;
            return Err(e.into());
        }
    };
    let v = s.engine.verify_session(&ctx, proof).await?;
    Ok(Json(MfaVerified {
        mfa_at: v.mfa_at,
        fresh_until: v.fresh_until,
        method: v.method.to_owned(),
        recovery_codes_left: v.recovery_codes_left,
    }))
}

/// Removes a user's MFA (authenticators and recovery codes), e.g. after a lost phone; their
/// sessions no longer count as having passed MFA. Needs `pim.directory.write` at `/`.
#[utoipa::path(delete, path = "/api/v1/users/{id}/mfa", tag = "mfa", security(("bearer" = [])),
    params(("id" = PrincipalId, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reset_mfa(State(s): State<AppState>, Ctx(ctx): Ctx, Path(id): Path<PrincipalId>) -> ApiResult<StatusCode> {
    s.engine.reset_mfa(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
