//! MFA: factors, recovery codes and tokens' MFA time.

use super::*;
use pim_domain::mfa::TotpFactor;
use pim_store::q::{self, RecoveryCodeUse};

fn factor(p: &Principal, confirmed: Option<i64>) -> TotpFactor {
    TotpFactor {
        id: MfaFactorId::new(),
        principal_id: p.id,
        secret: format!("v1:sealed-for-{}", p.name),
        confirmed_at: confirmed.map(t),
        last_step: confirmed.map(|_| 7),
        failed_attempts: 0,
        locked_until: None,
        created_at: t(100),
    }
}

both!(one_pending_and_one_confirmed_factor_per_principal, |db| {
    let mut c = db.conn().await;
    let (alice, bob) = (user("alice"), user("bob"));
    add(&mut c, &alice).await;
    add(&mut c, &bob).await;
    assert_eq!(q::get_confirmed_totp_factor(&mut c, alice.id).await.unwrap(), None);
    assert_eq!(q::get_pending_totp_factor(&mut c, alice.id).await.unwrap(), None);

    let pending = factor(&alice, None);
    q::insert_totp_factor(&mut c, &pending).await.unwrap();
    assert_eq!(q::get_pending_totp_factor(&mut c, alice.id).await.unwrap().as_ref(), Some(&pending));
    assert_eq!(q::get_confirmed_totp_factor(&mut c, alice.id).await.unwrap(), None);
    let err = q::insert_totp_factor(&mut c, &factor(&alice, None)).await.unwrap_err();
    assert!(err.is_unique(), "a second pending factor: {err:?}");
    q::insert_totp_factor(&mut c, &factor(&bob, None)).await.unwrap();

    // Confirmed: the pending one becomes it.
    q::confirm_totp_factor(&mut c, pending.id, t(200), 42).await.unwrap();
    let confirmed = q::get_confirmed_totp_factor(&mut c, alice.id).await.unwrap().unwrap();
    assert_eq!((confirmed.id, confirmed.confirmed_at, confirmed.last_step), (pending.id, Some(t(200)), Some(42)));
    assert_eq!(q::get_pending_totp_factor(&mut c, alice.id).await.unwrap(), None);
    let err = q::insert_totp_factor(&mut c, &factor(&alice, Some(300))).await.unwrap_err();
    assert!(err.is_unique(), "a second confirmed factor: {err:?}");
    let other = factor(&bob, Some(300));
    q::insert_totp_factor(&mut c, &other).await.unwrap();
    assert!(q::delete_confirmed_totp_factor(&mut c, bob.id).await.unwrap());
    assert!(!q::delete_confirmed_totp_factor(&mut c, bob.id).await.unwrap());
    assert!(q::get_pending_totp_factor(&mut c, bob.id).await.unwrap().is_some(), "only the confirmed one goes");
    // A new pending one may wait beside the confirmed one, and be replaced.
    q::insert_totp_factor(&mut c, &factor(&alice, None)).await.unwrap();
    assert!(q::delete_pending_totp_factor(&mut c, alice.id).await.unwrap());
    assert!(!q::delete_pending_totp_factor(&mut c, alice.id).await.unwrap());
    assert!(q::get_confirmed_totp_factor(&mut c, alice.id).await.unwrap().is_some(), "the confirmed one stays");

    // Wrong codes, a lock, then a success that clears them.
    q::record_mfa_failure(&mut c, pending.id, 3, None).await.unwrap();
    let f = q::get_confirmed_totp_factor(&mut c, alice.id).await.unwrap().unwrap();
    assert_eq!((f.failed_attempts, f.locked_until), (3, None));
    q::record_mfa_failure(&mut c, pending.id, 0, Some(t(900))).await.unwrap();
    q::record_mfa_failure(&mut c, pending.id, 1, None).await.unwrap();
    let f = q::get_confirmed_totp_factor(&mut c, alice.id).await.unwrap().unwrap();
    assert_eq!((f.failed_attempts, f.locked_until), (1, Some(t(900))), "a later failure keeps the lock time");
    q::record_mfa_success(&mut c, pending.id, None).await.unwrap();
    let f = q::get_confirmed_totp_factor(&mut c, alice.id).await.unwrap().unwrap();
    assert_eq!((f.failed_attempts, f.locked_until, f.last_step), (0, None, Some(42)), "a recovery code keeps the step");
    q::record_mfa_success(&mut c, pending.id, Some(43)).await.unwrap();
    assert_eq!(q::get_confirmed_totp_factor(&mut c, alice.id).await.unwrap().unwrap().last_step, Some(43));

    q::insert_totp_factor(&mut c, &factor(&alice, None)).await.unwrap();
    assert_eq!(q::delete_totp_factors(&mut c, alice.id).await.unwrap(), 2, "the confirmed and a pending one");
    assert_eq!(q::get_confirmed_totp_factor(&mut c, alice.id).await.unwrap(), None);
    assert!(q::get_pending_totp_factor(&mut c, bob.id).await.unwrap().is_some(), "bob's is untouched");
});

both!(recovery_codes_are_single_use, |db| {
    let mut c = db.conn().await;
    let (alice, bob) = (user("alice"), user("bob"));
    add(&mut c, &alice).await;
    add(&mut c, &bob).await;
    let hashes: Vec<String> = (0..10).map(|i| format!("hash-{i}")).collect();
    q::replace_recovery_codes(&mut c, alice.id, &hashes, t(10)).await.unwrap();
    q::replace_recovery_codes(&mut c, bob.id, &hashes[..2], t(10)).await.unwrap();
    assert_eq!(q::count_unused_recovery_codes(&mut c, alice.id).await.unwrap(), 10);

    assert_eq!(q::use_recovery_code(&mut c, alice.id, "hash-3", t(20)).await.unwrap(), RecoveryCodeUse::Used);
    assert_eq!(
        q::use_recovery_code(&mut c, alice.id, "hash-3", t(30)).await.unwrap(),
        RecoveryCodeUse::UsedBefore(t(20))
    );
    assert_eq!(q::use_recovery_code(&mut c, alice.id, "hash-x", t(30)).await.unwrap(), RecoveryCodeUse::Unknown);
    assert_eq!(q::use_recovery_code(&mut c, bob.id, "hash-5", t(30)).await.unwrap(), RecoveryCodeUse::Unknown);
    assert_eq!(q::count_unused_recovery_codes(&mut c, alice.id).await.unwrap(), 9);
    assert_eq!(q::count_unused_recovery_codes(&mut c, bob.id).await.unwrap(), 2, "bob's are his own");

    // New codes replace all the old ones, used or not.
    q::replace_recovery_codes(&mut c, alice.id, &["fresh-1".to_owned()], t(40)).await.unwrap();
    assert_eq!(q::count_unused_recovery_codes(&mut c, alice.id).await.unwrap(), 1);
    assert_eq!(q::use_recovery_code(&mut c, alice.id, "hash-4", t(50)).await.unwrap(), RecoveryCodeUse::Unknown);
    assert_eq!(q::delete_recovery_codes(&mut c, alice.id).await.unwrap(), 1);
    assert_eq!(q::count_unused_recovery_codes(&mut c, alice.id).await.unwrap(), 0);
});

both!(tokens_remember_when_their_session_passed_mfa, |db| {
    let mut c = db.conn().await;
    let alice = user("alice");
    let bob = user("bob");
    add(&mut c, &alice).await;
    add(&mut c, &bob).await;
    let tok = |p: &Principal, mfa_at: Option<Timestamp>| ApiToken {
        id: TokenId::new(),
        principal_id: p.id,
        name: "t".into(),
        created_at: t(1),
        expires_at: t(1_000),
        revoked_at: None,
        last_used_at: None,
        mfa_at,
    };
    let (a1, a2, b1) = (tok(&alice, Some(t(5))), tok(&alice, None), tok(&bob, Some(t(6))));
    q::insert_token(&mut c, &a1, "h1").await.unwrap();
    q::insert_token(&mut c, &a2, "h2").await.unwrap();
    q::insert_token(&mut c, &b1, "h3").await.unwrap();
    assert_eq!(q::get_token_by_hash(&mut c, "h1").await.unwrap().unwrap().mfa_at, Some(t(5)));
    q::set_token_mfa(&mut c, a2.id, t(9)).await.unwrap();
    assert_eq!(q::get_token(&mut c, a2.id).await.unwrap().unwrap().mfa_at, Some(t(9)));
    assert_eq!(q::clear_tokens_mfa(&mut c, alice.id).await.unwrap(), 2);
    assert_eq!(q::get_token(&mut c, a1.id).await.unwrap().unwrap().mfa_at, None);
    assert_eq!(q::get_token(&mut c, b1.id).await.unwrap().unwrap().mfa_at, Some(t(6)), "bob's session is untouched");
});
