//! Hostile MFA input: malformed, wrong, reused and unexpected codes, calls the state does not allow.

use serde_json::{Value, json};

use crate::harness::prelude::*;
use crate::hostile::{Body, Mode, Who, case, fixture, run};

/// Malformed, wrong, reused and unexpected MFA codes, and MFA calls that the state does not allow.
async fn bad_mfa_input(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let alice = Client::new(&s.url, Some(fx.alice_token.clone())).expect("client");
    let totp = s.enroll_mfa(&alice).await;
    s.advance(20 * MINUTE_MS);
    // Another session of alice's passes MFA with a code and a recovery code; hers stays stale.
    let other = s.client_for(fx.alice).await;
    let used_code = totp.unused_code(&s);
    other.verify_mfa(&VerifyMfa { code: Some(used_code.clone()), recovery_code: None }).await.expect("verify");
    let used_rc = totp.recovery_codes[0].clone();
    other.verify_mfa(&VerifyMfa { code: None, recovery_code: Some(used_rc.clone()) }).await.expect("recovery code");
    let wrong = format!("{:06}", (used_code.parse::<u32>().expect("digits") + 500_000) % 1_000_000);
    let g = fx.grp;
    let bad = ["invalid_input"];
    let mut cases = Vec::new();
    let verify = |what: &str, body: Value, want: u16, codes: &[&'static str]| {
        case(format!("POST /auth/mfa: {what}"), "POST", "/api/v1/auth/mfa", Body::Json(body), want, codes)
            .by(Who::Alice)
    };
    for c in ["", "12345", "1234567", "abcdef", "12 345", "１２３４５６", "-12345"] {
        cases.push(verify(&format!("code {c:?}"), json!({"code": c}), 400, &bad).mentions("6 digits"));
    }
    cases.push(verify("a number as code", json!({"code": 123456}), 400, &bad));
    for c in ["", "short", "abcde-fghjk-m", "abcde-fghji", "abcde_fghjk", "ééééé-ééééé"] {
        cases.push(
            verify(&format!("recovery code {c:?}"), json!({"recoveryCode": c}), 400, &bad).mentions("recovery code"),
        );
    }
    cases.push(verify("neither code", json!({}), 400, &bad).mentions("exactly one"));
    cases.push(verify("both codes", json!({"code": "123456", "recoveryCode": "abcde-fghjk"}), 400, &bad));
    cases.push(verify("an unknown field", json!({"otp": "123456"}), 400, &bad).mentions("otp"));
    cases.push(verify("a reused code", json!({"code": used_code}), 401, &["mfa_code_reused"]));
    cases.push(verify("a used recovery code", json!({"recoveryCode": used_rc}), 401, &["mfa_code_reused"]));
    cases.push(verify("a wrong code", json!({"code": wrong}), 401, &["invalid_mfa_code"]));
    cases.push(verify("a wrong recovery code", json!({"recoveryCode": "zzzzz-zzzzz"}), 401, &["invalid_mfa_code"]));
    let by_admin = |what: &str, m: &str, path: &str, body: Body, want: u16, codes: &[&'static str]| {
        case(format!("{m} {path}: {what}"), m, path, body, want, codes)
    };
    cases.push(by_admin(
        "no authenticator",
        "POST",
        "/api/v1/auth/mfa",
        Body::Json(json!({"code": "123456"})),
        409,
        &["mfa_not_enrolled"],
    ));
    cases.push(by_admin(
        "nothing to confirm",
        "POST",
        "/api/v1/me/mfa/totp/confirm",
        Body::Json(json!({"code": "123456"})),
        409,
        &["mfa_not_enrolled"],
    ));
    cases.push(by_admin(
        "no new codes without one",
        "POST",
        "/api/v1/me/mfa/recovery-codes",
        Body::Empty,
        409,
        &["mfa_not_enrolled"],
    ));
    for c in ["12", "abcdef", ""] {
        cases.push(
            case(
                format!("confirm with {c:?}"),
                "POST",
                "/api/v1/me/mfa/totp/confirm",
                Body::Json(json!({"code": c})),
                400,
                &bad,
            )
            .by(Who::Alice),
        );
    }
    cases.push(
        case(
            "a stale session enrolls a second authenticator",
            "POST",
            "/api/v1/me/mfa/totp",
            Body::Empty,
            422,
            &["mfa_required"],
        )
        .by(Who::Alice)
        .mentions("pim mfa verify"),
    );
    cases.push(
        case(
            "a stale session asks for new recovery codes",
            "POST",
            "/api/v1/me/mfa/recovery-codes",
            Body::Empty,
            422,
            &["mfa_required"],
        )
        .by(Who::Alice),
    );
    cases.push(
        case("a service principal enrolls", "POST", "/api/v1/me/mfa/totp", Body::Empty, 400, &bad)
            .by(Who::Header(format!("Bearer {}", s.client_for(fx.robot).await.token().expect("token")))),
    );
    // Resets.
    let u = uuid::Uuid::now_v7();
    cases.push(by_admin("a bad id", "DELETE", "/api/v1/users/not-a-uuid/mfa", Body::Empty, 400, &bad));
    cases.push(by_admin(
        "an unknown user",
        "DELETE",
        &format!("/api/v1/users/{u}/mfa"),
        Body::Empty,
        404,
        &["not_found"],
    ));
    cases.push(by_admin("a group", "DELETE", &format!("/api/v1/users/{g}/mfa"), Body::Empty, 404, &["not_found"]));
    cases.push(
        case(
            "reset by a user without rights",
            "DELETE",
            format!("/api/v1/users/{}/mfa", fx.alice),
            Body::Empty,
            403,
            &["forbidden"],
        )
        .by(Who::Alice),
    );
    cases.push(
        case(
            "without a token",
            "POST",
            "/api/v1/auth/mfa",
            Body::Json(json!({"code": "123456"})),
            401,
            &["unauthenticated"],
        )
        .by(Who::Nobody),
    );
    // Sign-in with a code.
    let sign_in = |what: &str, otp: Value, want: u16, codes: &[&'static str]| {
        let body = json!({"username": "admin", "password": crate::harness::ADMIN_PASSWORD, "otp": otp});
        case(format!("sign-in with {what}"), "POST", "/api/v1/auth/login", Body::Json(body), want, codes)
            .by(Who::Nobody)
    };
    cases.push(sign_in("a malformed code", json!("12"), 400, &bad).mentions("6 digits"));
    cases.push(sign_in("a number as code", json!(123456), 400, &bad));
    cases.push(sign_in("a code but no authenticator", json!("123456"), 409, &["mfa_not_enrolled"]));
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_mfa_input_is_refused(b: Backend) {
    bad_mfa_input(b, Mode::Regular).await;
}

crate::backend_tests!(bad_mfa_input_is_refused);
