//! TOTP MFA end to end: enrollment and confirmation, replay refusal, the lockout, recovery codes,
//! freshness, an administrator's reset, sign-in with a code, secrets at rest, the audit trail, and
//! codes computed by an independent implementation (Python's pyotp).

use std::collections::BTreeMap;

use pim_engine::engine::EngineOptions;
use pim_engine::mfa::MfaProof;
use pim_engine::{Context, Engine};

use crate::harness::prelude::*;

const PASSWORD: &str = "correct horse battery";

/// A user with a password, and a client with a token for them.
async fn user_with_password(s: &TestServer, name: &str) -> (PrincipalId, Client) {
    let p = s
        .admin
        .create_user(&CreateUser { name: name.into(), password: Some(PASSWORD.into()), ..Default::default() })
        .await
        .expect("create user");
    (p.id, s.client_for(p.id).await)
}

fn login(name: &str, otp: Option<String>) -> LoginRequest {
    LoginRequest { username: name.into(), password: PASSWORD.into(), token_name: None, otp }
}

fn totp_body(code: String) -> VerifyMfa {
    VerifyMfa { code: Some(code), recovery_code: None }
}

fn recovery_body(code: &str) -> VerifyMfa {
    VerifyMfa { code: None, recovery_code: Some(code.into()) }
}

/// The MFA events about `principal`, oldest first.
async fn mfa_events(s: &TestServer, principal: PrincipalId) -> Vec<AuditEvent> {
    let q = AuditQuery {
        principal: Some(principal.to_string()),
        action: Some("mfa.".into()),
        limit: Some(1000),
        ..Default::default()
    };
    let mut events = s.admin.list_audit(&q).await.expect("audit").items;
    events.reverse();
    events
}

/// `(action, error code)` of events, for comparing sequences.
fn brief(events: &[AuditEvent]) -> Vec<(String, Option<String>)> {
    events.iter().map(|e| (e.action.clone(), e.error_code.clone())).collect()
}

fn ev(action: &str, code: Option<&str>) -> (String, Option<String>) {
    (action.to_owned(), code.map(str::to_owned))
}

/// Every text and number of the given tables, one string per row.
async fn rows(s: &TestServer, table: &str, filter: &str) -> Vec<BTreeMap<String, String>> {
    use sqlx::{Column, Connection, Row};
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&s.db.url).await.expect("connect");
    let found = sqlx::query(&format!("SELECT * FROM {table} {filter}")).fetch_all(&mut c).await.expect(table);
    found
        .iter()
        .map(|r| {
            (0..r.columns().len())
                .map(|i| {
                    let v = r
                        .try_get::<Option<String>, _>(i)
                        .map(|v| v.unwrap_or_default())
                        .or_else(|_| {
                            r.try_get::<Option<i64>, _>(i).map(|v| v.map(|n| n.to_string()).unwrap_or_default())
                        })
                        .unwrap_or_default();
                    (r.columns()[i].name().to_owned(), v)
                })
                .collect()
        })
        .collect()
}

/// Every row of every table that could hold a secret, as text.
async fn everything(s: &TestServer) -> String {
    let mut all = String::new();
    for t in ["mfa_totp_factors", "mfa_recovery_codes", "api_tokens", "audit_events", "meta", "principals"] {
        for r in rows(s, t, "").await {
            all.push_str(&format!("{r:?}\n"));
        }
    }
    all
}

/// The whole enrollment: a pending factor, a wrong then a right first code, recovery codes, a
/// fresh session, and the status along the way.
async fn enrollment_confirms_with_the_first_code(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice_id, alice) = s.user("alice").await;
    let st = alice.mfa_status().await.expect("status");
    assert!(!st.enrolled && st.pending_since.is_none() && !st.fresh, "{st:?}");
    assert_eq!(code(alice.confirm_totp("123456").await), "mfa_not_enrolled", "nothing to confirm yet");
    assert_eq!(code(alice.verify_mfa(&totp_body("123456".into())).await), "mfa_not_enrolled");

    let e = alice.enroll_totp().await.expect("enroll");
    assert!(e.otpauth_uri.starts_with("otpauth://totp/pim:alice?secret="), "{}", e.otpauth_uri);
    assert!(e.otpauth_uri.contains(&format!("secret={}", e.secret)) && e.otpauth_uri.ends_with("&issuer=pim"));
    assert_eq!(e.secret.len(), 32, "160 bits in base 32");
    assert!(e.qr_svg.starts_with("<?xml") && e.qr_svg.contains("<svg"), "an SVG QR code");
    assert!(!e.replaces_confirmed);
    let st = alice.mfa_status().await.expect("status");
    assert_eq!((st.enrolled, st.pending_since), (false, Some(T0)));

    // Enrolling again replaces the pending factor: the first secret's codes no longer confirm.
    let first = TotpHelper::new(&e);
    let e2 = alice.enroll_totp().await.expect("enroll again");
    assert_ne!(e2.secret, e.secret);
    let totp = TotpHelper::new(&e2);
    assert_eq!(code(alice.confirm_totp(&first.code(&s)).await), "invalid_mfa_code");
    assert_eq!(status(alice.confirm_totp("000000x").await), 400, "malformed");

    let c = alice.confirm_totp(&totp.code(&s)).await.expect("confirm");
    assert_eq!(c.recovery_codes.len(), 10);
    for rc in &c.recovery_codes {
        assert!(rc.len() == 11 && rc.as_bytes()[5] == b'-', "{rc}");
    }
    let distinct: std::collections::BTreeSet<_> = c.recovery_codes.iter().collect();
    assert_eq!(distinct.len(), 10);
    assert_eq!((c.mfa_at, c.fresh_until), (T0, T0.plus_millis(15 * MINUTE_MS)));
    let st = alice.mfa_status().await.expect("status");
    assert!(st.enrolled && st.fresh && st.pending_since.is_none(), "{st:?}");
    assert_eq!((st.confirmed_at, st.recovery_codes_left, st.session_mfa_at), (Some(T0), 10, Some(T0)));
    assert_eq!(code(alice.confirm_totp(&totp.code(&s)).await), "mfa_not_enrolled", "nothing pending any more");

    let events = mfa_events(&s, alice_id).await;
    assert_eq!(
        brief(&events),
        [
            ev("mfa.confirm", Some("mfa_not_enrolled")),
            ev("mfa.verify", Some("mfa_not_enrolled")),
            ev("mfa.enroll", None),
            ev("mfa.enroll", None),
            ev("mfa.confirm", Some("invalid_mfa_code")),
            ev("mfa.confirm", Some("invalid_input")),
            ev("mfa.confirm", None),
            ev("mfa.confirm", Some("mfa_not_enrolled")),
        ]
    );
    assert_eq!(events[3].details["replacedPending"], true);
    s.stop().await;
}

/// With a confirmed factor, a new enrollment needs a fresh session; confirming it replaces the old
/// factor and its recovery codes.
async fn re_enrollment_needs_fresh_mfa_and_replaces_the_factor(b: Backend) {
    let s = TestServer::start(&b).await;
    let (_, alice) = s.user("alice").await;
    let old = s.enroll_mfa(&alice).await;
    s.advance(15 * MINUTE_MS);
    assert!(!alice.mfa_status().await.expect("status").fresh);
    let r = alice.enroll_totp().await;
    assert_eq!((status(alice.enroll_totp().await), code(r)), (422, "mfa_required".to_owned()));
    s.pass_mfa(&alice, &old).await;
    let e = alice.enroll_totp().await.expect("a fresh session enrolls a new authenticator");
    assert!(e.replaces_confirmed);
    let st = alice.mfa_status().await.expect("status");
    assert!(st.enrolled && st.pending_since.is_some(), "the old one works until the new one is confirmed");
    let new = TotpHelper::new(&e);
    s.advance(30_000);
    let c = alice.confirm_totp(&new.code(&s)).await.expect("confirm the new one");
    assert!(c.recovery_codes.iter().all(|rc| !old.recovery_codes.contains(rc)));
    s.advance(60_000);
    assert_eq!(code(alice.verify_mfa(&totp_body(old.code(&s))).await), "invalid_mfa_code", "the old app's codes");
    assert_eq!(code(alice.verify_mfa(&recovery_body(&old.recovery_codes[0])).await), "invalid_mfa_code");
    alice.verify_mfa(&totp_body(new.code(&s))).await.expect("the new app's codes");
    alice.verify_mfa(&recovery_body(&c.recovery_codes[0])).await.expect("the new recovery codes");
    assert_eq!(rows(&s, "mfa_totp_factors", "").await.len(), 1, "one factor left");
    s.stop().await;
}

/// A code is accepted once; a code of the last accepted step or an earlier one is refused as reused;
/// one step of skew either way is accepted, two are not.
async fn a_code_is_accepted_once(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice_id, alice) = s.user("alice").await;
    let totp = s.enroll_mfa(&alice).await;
    s.advance(5 * MINUTE_MS);
    let step = TotpHelper::step(s.engine.now());
    let now_code = totp.code_for_step(step);
    let v = alice.verify_mfa(&totp_body(now_code.clone())).await.expect("the current code");
    assert_eq!((v.mfa_at, v.method.as_str()), (s.engine.now(), "totp"));
    let r = alice.verify_mfa(&totp_body(now_code.clone())).await;
    assert_eq!((status(alice.verify_mfa(&totp_body(now_code)).await), code(r)), (401, "mfa_code_reused".to_owned()));
    assert_eq!(
        code(alice.verify_mfa(&totp_body(totp.code_for_step(step - 1))).await),
        "mfa_code_reused",
        "an earlier step, though within the skew"
    );
    alice.verify_mfa(&totp_body(totp.code_for_step(step + 1))).await.expect("the next step (clock skew)");
    s.advance(30_000);
    assert_eq!(
        code(alice.verify_mfa(&totp_body(totp.code_for_step(step + 1))).await),
        "mfa_code_reused",
        "that step is now the current one, and used"
    );
    assert_eq!(code(alice.verify_mfa(&totp_body(totp.code_for_step(step + 3))).await), "invalid_mfa_code", "+2 steps");
    s.advance(5 * MINUTE_MS);
    let now = TotpHelper::step(s.engine.now());
    assert_eq!(code(alice.verify_mfa(&totp_body(totp.code_for_step(now - 2))).await), "invalid_mfa_code", "-2 steps");
    alice.verify_mfa(&totp_body(totp.code_for_step(now - 1))).await.expect("the previous step (clock skew)");
    // Reuses do not count toward the lockout; wrong codes do (two so far).
    let f = &rows(&s, "mfa_totp_factors", "").await[0];
    assert_eq!(f["failed_attempts"], "0", "reset by the last success");
    let events = mfa_events(&s, alice_id).await;
    let reused = events.iter().filter(|e| e.error_code.as_deref() == Some("mfa_code_reused")).count();
    assert_eq!(reused, 4);
    s.stop().await;
}

/// Five wrong codes in a row lock MFA for 15 minutes, for every kind of proof, across replicas;
/// then it works again and the count starts over.
async fn five_wrong_codes_lock_mfa_for_fifteen_minutes(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice_id, alice) = s.user("alice").await;
    let totp = s.enroll_mfa(&alice).await;
    s.advance(MINUTE_MS);
    let wrong =
        |n: u32| totp_body(format!("{:06}", (totp.code_at(s.engine.now()).parse::<u32>().unwrap() + n) % 1_000_000));
    for left in (1..=4).rev() {
        let r = alice.verify_mfa(&wrong(5 - left)).await;
        match r {
            Err(ClientError::Api { status: 401, problem }) => {
                assert_eq!(problem.code, "invalid_mfa_code");
                let codes = if left == 1 { "1 more wrong code".to_owned() } else { format!("{left} more wrong codes") };
                let expected = format!("the code is wrong; after {codes}, MFA is locked for 15 minutes");
                assert_eq!(problem.detail, expected);
            }
            other => panic!("a wrong code must be refused: {other:?}"),
        }
    }
    assert_eq!(rows(&s, "mfa_totp_factors", "").await[0]["failed_attempts"], "4", "counted in the database");
    let locked_at = s.engine.now();
    let r = alice.verify_mfa(&wrong(7)).await;
    assert_eq!((status(alice.verify_mfa(&wrong(8)).await), code(r)), (429, "too_many_attempts".to_owned()));
    let until = locked_at.plus_millis(15 * MINUTE_MS);
    assert_eq!(rows(&s, "mfa_totp_factors", "").await[0]["locked_until"], until.0.to_string());
    assert_eq!(
        code(alice.verify_mfa(&totp_body(totp.unused_code(&s))).await),
        "too_many_attempts",
        "even the right code"
    );
    assert_eq!(code(alice.verify_mfa(&recovery_body(&totp.recovery_codes[0])).await), "too_many_attempts");
    let st = alice.mfa_status().await.expect("status");
    assert_eq!(st.locked_until, Some(until));
    let signed_in = s.anonymous().login(&login("alice", Some(totp.unused_code(&s)))).await;
    assert_eq!(code(signed_in), "invalid_credentials", "alice has no password; the lock shows only after one");

    // Another replica (or this server after a restart) sees the lock: it is in the database.
    let store = pim_store::Store::open(&s.db.url).await.expect("store");
    let options = EngineOptions { secret_key: s.secret_key, ..EngineOptions::default() };
    let replica = Engine::open(store, s.clock.clone(), options).await.expect("replica");
    let actor = replica.authenticate(alice.token().expect("token")).await.expect("authenticate");
    let ctx = Context { actor: Some(actor), ..Context::default() };
    let err = replica.verify_mfa(&ctx, MfaProof::Totp(totp.unused_code(&s))).await.expect_err("locked");
    assert_eq!(err.refusal().map(|e| e.code()), Some("too_many_attempts"));

    s.advance(until.0 - s.engine.now().0 - 1);
    assert_eq!(code(alice.verify_mfa(&totp_body(totp.unused_code(&s))).await), "too_many_attempts", "a ms before");
    s.advance(1);
    alice.verify_mfa(&totp_body(totp.unused_code(&s))).await.expect("released after 15 minutes");
    assert_eq!(alice.mfa_status().await.expect("status").locked_until, None);
    // The count starts over: four wrong codes do not lock, and a success clears them.
    for n in 1..=4 {
        assert_eq!(code(alice.verify_mfa(&wrong(n)).await), "invalid_mfa_code");
    }
    replica.verify_mfa(&ctx, MfaProof::Totp(totp.unused_code(&s))).await.expect("the replica accepts a right code");
    for n in 1..=4 {
        assert_eq!(code(alice.verify_mfa(&wrong(n)).await), "invalid_mfa_code");
    }

    let events = mfa_events(&s, alice_id).await;
    let locks: Vec<_> = events.iter().filter(|e| e.action == "mfa.locked").collect();
    assert_eq!(locks.len(), 1, "the lockout is audited once");
    assert_eq!(locks[0].details["lockedUntil"], serde_json::json!(until));
    let wrong_codes = events.iter().filter(|e| e.error_code.as_deref() == Some("invalid_mfa_code")).count();
    assert_eq!(wrong_codes, 12);
    replica.store().close().await;
    s.stop().await;
}

/// Recovery codes work once each, instead of a TOTP code; new ones replace the old ones and need
/// a fresh session; they are stored as keyed hashes only.
async fn recovery_codes_are_single_use_and_stored_hashed(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice_id, alice) = s.user("alice").await;
    let totp = s.enroll_mfa(&alice).await;
    s.advance(20 * MINUTE_MS);
    let first = totp.recovery_codes[0].to_uppercase();
    let v = alice.verify_mfa(&recovery_body(&first)).await.expect("a recovery code, in any case");
    assert_eq!((v.method.as_str(), v.recovery_codes_left), ("recoveryCode", 9));
    assert!(alice.mfa_status().await.expect("status").fresh);
    let r = alice.verify_mfa(&recovery_body(&totp.recovery_codes[0])).await;
    assert_eq!((status(alice.verify_mfa(&recovery_body(&first)).await), code(r)), (401, "mfa_code_reused".into()));
    let spaced = totp.recovery_codes[1].replace('-', " ");
    alice.verify_mfa(&recovery_body(&spaced)).await.expect("spaces instead of the dash");
    assert_eq!(code(alice.verify_mfa(&recovery_body("zzzzz-zzzzz")).await), "invalid_mfa_code");
    assert_eq!(status(alice.verify_mfa(&recovery_body("not-a-code")).await), 400);
    assert_eq!(status(alice.verify_mfa(&VerifyMfa::default()).await), 400, "neither");
    let both = VerifyMfa { code: Some("123456".into()), recovery_code: Some(first.clone()) };
    assert_eq!(status(alice.verify_mfa(&both).await), 400, "both");
    assert_eq!(alice.mfa_status().await.expect("status").recovery_codes_left, 8);

    // Stored hashed: no code appears, in any form.
    let stored = rows(&s, "mfa_recovery_codes", "").await;
    assert_eq!(stored.len(), 10);
    assert_eq!(stored.iter().filter(|r| !r["used_at"].is_empty()).count(), 2);
    for r in &stored {
        assert_eq!(r["principal_id"], alice_id.to_string());
        assert_eq!(r["code_hash"].len(), 64, "an HMAC-SHA256");
    }
    let all = everything(&s).await;
    for rc in &totp.recovery_codes {
        assert!(!all.contains(rc.as_str()) && !all.contains(&rc.replace('-', "")), "recovery code {rc} is stored");
    }

    // New codes need a fresh session, and replace the old ones.
    s.advance(15 * MINUTE_MS);
    let r = alice.regenerate_recovery_codes().await;
    assert_eq!((status(alice.regenerate_recovery_codes().await), code(r)), (422, "mfa_required".into()));
    s.pass_mfa(&alice, &totp).await;
    let fresh = alice.regenerate_recovery_codes().await.expect("new codes").recovery_codes;
    assert_eq!(fresh.len(), 10);
    assert_eq!(code(alice.verify_mfa(&recovery_body(&totp.recovery_codes[5])).await), "invalid_mfa_code", "old");
    alice.verify_mfa(&recovery_body(&fresh[5])).await.expect("new");
    assert_eq!(alice.mfa_status().await.expect("status").recovery_codes_left, 9);
    let (_, bob) = s.user("bob").await;
    assert_eq!(code(bob.regenerate_recovery_codes().await), "mfa_not_enrolled");
    assert_eq!(code(bob.verify_mfa(&recovery_body(&fresh[6])).await), "mfa_not_enrolled", "codes are per user");

    let events = mfa_events(&s, alice_id).await;
    let used: Vec<_> = events.iter().filter(|e| e.action == "mfa.recoveryCodeUsed").collect();
    assert_eq!(used.len(), 3);
    assert_eq!(used[0].details["recoveryCodesLeft"], 9);
    assert!(events.iter().any(|e| e.action == "mfa.recoveryCodesRegenerated" && e.outcome == Outcome::Success));
    assert!(
        events
            .iter()
            .any(|e| e.action == "mfa.recoveryCodesRegenerated" && e.error_code.as_deref() == Some("mfa_required"))
    );
    s.stop().await;
}

/// The TOTP secret is encrypted at rest, bound to its owner: the base32 secret (or its bytes) is
/// in no table, and a sealed secret moved to another user's row does not open.
async fn the_secret_is_encrypted_at_rest(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice_id, alice) = s.user("alice").await;
    let (bob_id, bob) = s.user("bob").await;
    let a = s.enroll_mfa(&alice).await;
    let bt = s.enroll_mfa(&bob).await;
    let factors = rows(&s, "mfa_totp_factors", &format!("WHERE principal_id = '{alice_id}'")).await;
    let sealed = factors[0]["secret"].clone();
    assert!(sealed.starts_with("v1:"), "{sealed}");
    let all = everything(&s).await;
    assert!(!all.contains(&a.otpauth_uri) && !all.contains("otpauth://"), "nor the URI");
    for secret in [&a.secret_base32, &bt.secret_base32] {
        assert!(!all.contains(secret.as_str()), "the base32 secret is stored in clear");
        assert!(!all.contains(&secret.to_lowercase()));
    }
    // Copy alice's sealed secret over bob's: it does not open for bob, so nothing is accepted.
    {
        use sqlx::Connection;
        let mut c = sqlx::AnyConnection::connect(&s.db.url).await.expect("connect");
        sqlx::query(&format!("UPDATE mfa_totp_factors SET secret = '{sealed}' WHERE principal_id = '{bob_id}'"))
            .execute(&mut c)
            .await
            .expect("swap");
    }
    s.advance(MINUTE_MS);
    // Refused (the row is corrupt: an internal error), never accepted: the ciphertext is bound to alice.
    let r = bob.verify_mfa(&totp_body(a.unused_code(&s))).await;
    assert_eq!(status(r), 500);
    let r = bob.verify_mfa(&totp_body(bt.unused_code(&s))).await;
    assert_eq!(status(r), 500);
    s.stop().await;
}

/// A session that passed MFA is fresh for 15 minutes, then not; freshness belongs to the session
/// (the token), and a verification is seen at once by the next call.
async fn a_session_is_fresh_for_fifteen_minutes(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice_id, alice) = s.user("alice").await;
    let other_session = s.client_for(alice_id).await;
    let totp = s.enroll_mfa(&alice).await;
    let st = alice.mfa_status().await.expect("status");
    assert_eq!((st.fresh, st.fresh_until), (true, Some(T0.plus_millis(15 * MINUTE_MS))));
    let st = other_session.mfa_status().await.expect("status");
    assert!(st.enrolled && !st.fresh && st.session_mfa_at.is_none(), "another token has not passed MFA: {st:?}");
    s.advance(15 * MINUTE_MS - 1);
    assert!(alice.mfa_status().await.expect("status").fresh, "a millisecond before the end");
    s.advance(1);
    let st = alice.mfa_status().await.expect("status");
    assert_eq!((st.fresh, st.fresh_until, st.session_mfa_at), (false, None, Some(T0)));
    assert_eq!(code(alice.regenerate_recovery_codes().await), "mfa_required");
    // The token cache must not hide a verification: the next call sees it.
    let v = s.pass_mfa(&other_session, &totp).await;
    let st = other_session.mfa_status().await.expect("status");
    assert_eq!((st.fresh, st.session_mfa_at, st.fresh_until), (true, Some(v.mfa_at), Some(v.fresh_until)));
    assert!(!alice.mfa_status().await.expect("status").fresh, "the first session is still stale");
    other_session.regenerate_recovery_codes().await.expect("the fresh session may");
    let tokens = other_session.list_tokens(None).await.expect("tokens").items;
    assert_eq!(tokens.iter().filter(|t| t.mfa_at == Some(v.mfa_at)).count(), 1, "tokens show their MFA time");
    s.stop().await;
}

/// An administrator resets a user's MFA (audited); a plain user may not.
async fn an_administrator_resets_a_users_mfa(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice_id, alice) = s.user("alice").await;
    let (_, bob) = s.user("bob").await;
    let totp = s.enroll_mfa(&alice).await;
    let before = rows(&s, "mfa_totp_factors", "").await;
    let r = bob.reset_mfa(alice_id).await;
    assert_eq!((status(bob.reset_mfa(alice_id).await), code(r)), (403, "forbidden".into()));
    assert_eq!(rows(&s, "mfa_totp_factors", "").await, before, "nothing changed");
    assert!(alice.mfa_status().await.expect("status").fresh);

    s.admin.reset_mfa(alice_id).await.expect("a Global Administrator resets alice's MFA");
    let st = alice.mfa_status().await.expect("status");
    assert!(!st.enrolled && !st.fresh && st.session_mfa_at.is_none() && st.recovery_codes_left == 0, "{st:?}");
    assert!(rows(&s, "mfa_totp_factors", "").await.is_empty());
    assert!(rows(&s, "mfa_recovery_codes", "").await.is_empty());
    assert_eq!(code(alice.verify_mfa(&recovery_body(&totp.recovery_codes[0])).await), "mfa_not_enrolled");
    s.admin.reset_mfa(alice_id).await.expect("again: nothing to remove, still fine");
    assert_eq!(code(s.admin.reset_mfa(PrincipalId::new()).await), "not_found");
    let g = s.group("ops").await;
    assert_eq!(code(s.admin.reset_mfa(g).await), "not_found", "groups have no MFA");
    let again = s.enroll_mfa(&alice).await;
    assert_ne!(again.secret_base32, totp.secret_base32, "alice enrolls again without MFA");

    let events = mfa_events(&s, alice_id).await;
    let resets: Vec<_> = events.iter().filter(|e| e.action == "mfa.reset").collect();
    assert_eq!(
        brief(&resets.iter().map(|e| (*e).clone()).collect::<Vec<_>>()),
        [
            ev("mfa.reset", Some("forbidden")),
            ev("mfa.reset", Some("forbidden")),
            ev("mfa.reset", None),
            ev("mfa.reset", None),
        ]
    );
    assert_eq!(resets[2].actor_id, Some(s.admin_id));
    assert_eq!(resets[2].details["factorsRemoved"], 1);
    assert_eq!(resets[2].details["recoveryCodesRemoved"], 10);
    assert_eq!(resets[3].details["factorsRemoved"], 0);
    s.stop().await;
}

/// Sign-in with a code: the session starts having passed MFA; a wrong code fails the sign-in and
/// counts toward the lockout; a reused, malformed or unexpected code fails it too.
async fn sign_in_with_a_code(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice_id, alice) = user_with_password(&s, "alice").await;
    let (_, _) = user_with_password(&s, "bob").await;
    let anon = s.anonymous();
    assert_eq!(code(anon.login(&login("bob", Some("123456".into()))).await), "mfa_not_enrolled");
    let totp = s.enroll_mfa(&alice).await;
    s.advance(MINUTE_MS);

    let plain = anon.login(&login("alice", None)).await.expect("sign-in without a code");
    assert_eq!(plain.mfa_at, None);
    let c = Client::new(&s.url, Some(plain.token)).expect("client");
    assert!(!c.mfa_status().await.expect("status").fresh);

    let code_now = totp.unused_code(&s);
    let signed = anon.login(&login("alice", Some(code_now.clone()))).await.expect("sign-in with a code");
    assert_eq!(signed.mfa_at, Some(s.engine.now()));
    let c = Client::new(&s.url, Some(signed.token)).expect("client");
    let st = c.mfa_status().await.expect("status");
    assert!(st.fresh && st.session_mfa_at == Some(s.engine.now()), "{st:?}");
    let r = anon.login(&login("alice", Some(code_now.clone()))).await;
    assert_eq!(
        (status(anon.login(&login("alice", Some(code_now.clone()))).await), code(r)),
        (401, "mfa_code_reused".into())
    );
    assert_eq!(code(alice.verify_mfa(&totp_body(code_now)).await), "mfa_code_reused", "used at sign-in");
    assert_eq!(status(anon.login(&login("alice", Some("12345".into()))).await), 400);
    let wrong = || {
        let n: u32 = totp.code_at(s.engine.now()).parse().unwrap();
        Some(format!("{:06}", (n + 500_000) % 1_000_000))
    };
    let r = anon.login(&login("alice", wrong())).await;
    assert_eq!((status(anon.login(&login("alice", wrong())).await), code(r)), (401, "invalid_mfa_code".into()));
    assert_eq!(rows(&s, "mfa_totp_factors", "").await[0]["failed_attempts"], "2", "sign-in failures count");
    let wrong_password = LoginRequest { password: "wrong password".into(), ..login("alice", wrong()) };
    assert_eq!(code(anon.login(&wrong_password).await), "invalid_credentials", "the password is checked first");
    assert_eq!(
        rows(&s, "mfa_totp_factors", "").await[0]["failed_attempts"],
        "2",
        "a code after a wrong password is not tried"
    );
    for _ in 0..2 {
        assert_eq!(code(anon.login(&login("alice", wrong())).await), "invalid_mfa_code");
    }
    assert_eq!(code(anon.login(&login("alice", wrong())).await), "too_many_attempts", "the fifth locks");
    assert_eq!(code(anon.login(&login("alice", Some(totp.unused_code(&s)))).await), "too_many_attempts");
    assert_eq!(code(alice.verify_mfa(&totp_body(totp.unused_code(&s))).await), "too_many_attempts", "one lock for all");
    anon.login(&login("alice", None)).await.expect("the password alone still signs in");

    let q = AuditQuery {
        principal: Some(alice_id.to_string()),
        action: Some("auth.signIn".into()),
        limit: Some(100),
        ..Default::default()
    };
    let sign_ins = s.admin.list_audit(&q).await.expect("audit").items;
    let codes: Vec<_> = sign_ins.iter().rev().map(|e| e.error_code.clone()).collect();
    assert_eq!(codes.iter().filter(|c| c.as_deref() == Some("invalid_mfa_code")).count(), 4);
    assert_eq!(codes.iter().filter(|c| c.as_deref() == Some("mfa_code_reused")).count(), 2);
    assert_eq!(codes.iter().filter(|c| c.as_deref() == Some("too_many_attempts")).count(), 2);
    let ok: Vec<_> = sign_ins.iter().filter(|e| e.outcome == Outcome::Success).collect();
    assert_eq!(ok.len(), 3);
    assert!(ok.iter().any(|e| e.details["mfa"] == true));
    let verified = mfa_events(&s, alice_id).await;
    assert!(
        verified
            .iter()
            .any(|e| e.action == "mfa.verify" && e.outcome == Outcome::Success && e.details["signIn"] == true)
    );
    s.stop().await;
}

/// Every MFA success and failure is an audit event, and no event holds a secret or a code.
async fn every_mfa_event_is_audited_without_secrets(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice_id, alice) = s.user("alice").await;
    let totp = s.enroll_mfa(&alice).await;
    s.advance(MINUTE_MS);
    let mut codes_given = vec![totp.code(&s)];
    alice.verify_mfa(&totp_body(codes_given[0].clone())).await.expect("verify");
    alice.verify_mfa(&totp_body(codes_given[0].clone())).await.expect_err("reused");
    alice.verify_mfa(&recovery_body(&totp.recovery_codes[0])).await.expect("recovery code");
    let fresh = alice.regenerate_recovery_codes().await.expect("new codes").recovery_codes;
    for n in 1..=5 {
        let c = format!("{:06}", (codes_given[0].parse::<u32>().unwrap() + n * 7919) % 1_000_000);
        alice.verify_mfa(&totp_body(c.clone())).await.expect_err("wrong");
        codes_given.push(c);
    }
    s.admin.reset_mfa(alice_id).await.expect("reset");

    let events = mfa_events(&s, alice_id).await;
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in &events {
        *seen.entry((e.action.clone(), e.error_code.clone().unwrap_or_else(|| "ok".into()))).or_default() += 1;
    }
    for (action, outcome) in [
        ("mfa.enroll", "ok"),
        ("mfa.confirm", "ok"),
        ("mfa.verify", "ok"),
        ("mfa.verify", "mfa_code_reused"),
        ("mfa.verify", "invalid_mfa_code"),
        ("mfa.verify", "too_many_attempts"),
        ("mfa.locked", "too_many_attempts"),
        ("mfa.recoveryCodeUsed", "ok"),
        ("mfa.recoveryCodesRegenerated", "ok"),
        ("mfa.reset", "ok"),
    ] {
        assert!(seen.contains_key(&(action.into(), outcome.into())), "no {action} ({outcome}) event: {seen:?}");
    }
    for e in &events {
        assert!(e.client_addr.is_some() && e.http_request_id.is_some(), "{e:?}");
    }
    let text = serde_json::to_string(&events).unwrap();
    let mut secrets: Vec<String> = vec![totp.secret_base32.clone()];
    secrets.extend(totp.recovery_codes.iter().cloned());
    secrets.extend(fresh);
    secrets.extend(codes_given);
    for secret in secrets {
        assert!(!text.contains(&secret), "an audit event holds a secret or code: {secret}");
    }
    s.stop().await;
}

/// Only users enroll; service principals authenticate with tokens alone.
async fn service_principals_do_not_enroll(b: Backend) {
    let s = TestServer::start(&b).await;
    let robot = s.client_for(s.service_principal("robot").await).await;
    let r = robot.enroll_totp().await;
    assert_eq!((status(robot.enroll_totp().await), code(r)), (400, "invalid_input".into()));
    assert_eq!(code(robot.verify_mfa(&totp_body("123456".into())).await), "mfa_not_enrolled");
    assert_eq!(code(s.anonymous().mfa_status().await), "unauthenticated");
    s.stop().await;
}

/// A session that passed MFA activates a role whose settings require MFA.
async fn a_verified_session_activates_a_role_that_requires_mfa(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let (alice_id, alice) = s.user("alice").await;
    s.assign(alice_id, role, "/", AssignmentKind::Eligible, None).await;
    let totp = s.enroll_mfa(&alice).await;
    s.advance(20 * MINUTE_MS);
    let other = s.client_for(alice_id).await;
    assert_eq!(code(other.create_request(&activation(role, "/", 60)).await), "mfa_required");
    s.pass_mfa(&other, &totp).await;
    other.create_request(&activation(role, "/", 60)).await.expect("activated after MFA");
    // Fresh for 15 minutes: another activation is not asked again; after that it is.
    s.advance(14 * MINUTE_MS);
    other.create_request(&activation(role, "/b", 60)).await.expect("still fresh");
    s.advance(2 * MINUTE_MS);
    let v = other.validate_request(&activation(role, "/c", 60)).await.expect("validate");
    assert!(!v.valid && v.needs.mfa, "{v:?}");
    // A code sent with the request passes MFA and activates in one call; a wrong one changes nothing.
    let mut with_code = activation(role, "/c", 60);
    with_code.otp = Some("000000".into());
    assert_eq!(code(other.create_request(&with_code).await), "invalid_mfa_code");
    let at_c = AssignmentQuery { scope: Some(sp("/c")), ..Default::default() };
    assert!(s.admin.list_assignments(&at_c).await.expect("list").items.is_empty(), "nothing activated");
    with_code.otp = Some(totp.unused_code(&s));
    let out = other.create_request(&with_code).await.expect("activated with otp");
    assert_eq!(out.request.status, RequestStatus::Provisioned);
    assert_eq!(s.admin.list_assignments(&at_c).await.expect("list").items.len(), 1);
    // MFA on active assignment: the administrator's own session must pass it.
    s.set_settings(role, "/", |st| st.require_mfa_on_active_assignment = true).await;
    let (bob, _) = s.user("bob").await;
    let mut assign = CreateRequest::new(RequestAction::AdminAssign);
    assign.principal_id = Some(bob);
    assign.role_id = Some(role);
    assign.scope = Some(sp("/"));
    assign.kind = Some(AssignmentKind::Active);
    assign.justification = Some("on call".into());
    assert_eq!(code(s.admin.create_request(&assign).await), "mfa_required");
    let admin_totp = s.enroll_mfa(&s.admin).await;
    assign.otp = Some(admin_totp.unused_code(&s));
    s.admin.create_request(&assign).await.expect("assigned after MFA");
    assert!(s.allowed(bob, "ops.x", "/").await);
    s.stop().await;
}

/// Interoperability: codes computed by Python's pyotp from the `otpauth://` URI are accepted.
async fn codes_from_pyotp_are_accepted(b: Backend) {
    let Some(python) = python() else { return };
    let s = TestServer::start(&b).await;
    let (_, alice) = s.user("alice").await;
    let e = alice.enroll_totp().await.expect("enroll");
    let secret = e
        .otpauth_uri
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("secret=")))
        .expect("secret in the URI")
        .to_owned();
    let pyotp = |unix: i64| -> (String, String, String, String) {
        let script = "import sys, pyotp\n\
                      t = pyotp.parse_uri(sys.argv[1])\n\
                      print(t.issuer); print(t.name); print(t.at(int(sys.argv[3])))\n\
                      print(pyotp.TOTP(sys.argv[2]).at(int(sys.argv[3])))\n";
        let out = std::process::Command::new(&python)
            .args(["-c", script, &e.otpauth_uri, &secret, &unix.to_string()])
            .output()
            .expect("run PIM_TEST_PYTHON");
        assert!(out.status.success(), "pyotp failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let lines: Vec<_> = text.lines().map(str::to_owned).collect();
        (lines[0].clone(), lines[1].clone(), lines[2].clone(), lines[3].clone())
    };
    let unix = |t: Timestamp| t.0.div_euclid(1000);
    let (issuer, name, from_uri, code_now) = pyotp(unix(s.engine.now()));
    assert_eq!((issuer.as_str(), name.as_str()), ("pim", "alice"), "pyotp reads the URI");
    assert_eq!(from_uri, code_now);
    assert_eq!(code_now.len(), 6);
    alice.confirm_totp(&code_now).await.expect("pim accepts pyotp's code to confirm");
    s.advance(37 * 60_000 + 13_000);
    let (_, _, _, later) = pyotp(unix(s.engine.now()));
    let v = alice.verify_mfa(&totp_body(later.clone())).await.expect("and to verify, later");
    assert_eq!(v.method, "totp");
    assert_eq!(code(alice.verify_mfa(&totp_body(later)).await), "mfa_code_reused");
    s.stop().await;
}

/// The interpreter with pyotp (`PIM_TEST_PYTHON`); without it the test is skipped with a printed
/// reason, unless `CI=true`, where that is a failure.
fn python() -> Option<String> {
    match std::env::var("PIM_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PIM_TEST_PYTHON is not set, and CI=true requires the pyotp interoperability test to run"
            );
            eprintln!("skipped: PIM_TEST_PYTHON is not set (a Python 3 with pyotp, e.g. PIM_TEST_PYTHON=python3)");
            None
        }
    }
}

crate::backend_tests!(
    enrollment_confirms_with_the_first_code,
    re_enrollment_needs_fresh_mfa_and_replaces_the_factor,
    a_code_is_accepted_once,
    five_wrong_codes_lock_mfa_for_fifteen_minutes,
    recovery_codes_are_single_use_and_stored_hashed,
    the_secret_is_encrypted_at_rest,
    a_session_is_fresh_for_fifteen_minutes,
    an_administrator_resets_a_users_mfa,
    sign_in_with_a_code,
    every_mfa_event_is_audited_without_secrets,
    service_principals_do_not_enroll,
    a_verified_session_activates_a_role_that_requires_mfa,
    codes_from_pyotp_are_accepted,
);
