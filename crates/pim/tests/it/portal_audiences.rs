//! Manage > Audiences over real HTTP: an administrator lists, registers (with bad input refused
//! in the form) and removes audiences; a forged form (wrong anti-forgery token) and a user
//! without `pim.tokens.write` change nothing.

use crate::harness::ADMIN_PASSWORD;
use crate::harness::prelude::*;
use crate::portal::Browser;

const PW: &str = "a-long-password-1";

async fn administrators_manage_audiences_in_the_portal(b: Backend) {
    let s = TestServer::start(&b).await;
    s.custom_role("Operator", &["k8s.*"]).await;
    s.service_principal("k8s-gateway").await;
    let web = Browser::new(&s);
    assert_eq!(web.sign_in("admin", ADMIN_PASSWORD, None).await.status, 200);
    let empty = web.open("/manage/audiences").await;
    assert_eq!(empty.status, 200);
    assert!(empty.has("aria-current=\"page\">Audiences</a>"), "the Audiences tab is current");
    assert!(empty.text().contains("No audience is registered."), "{}", empty.text());
    let fields = [
        ("name", "k8s"),
        ("roles", "Operator"),
        ("scope_prefix", "/k8s"),
        ("lifetime_minutes", "10"),
        ("algorithm", "ES256"),
        ("introspector", "k8s-gateway"),
    ];
    let done = web.submit("/manage/audiences", &fields).await;
    assert_eq!(done.flash().as_deref(), Some("Registered the audience k8s."), "{}", done.text());
    let a = s.admin.get_audience("k8s").await.expect("registered");
    assert_eq!((a.lifetime_secs, a.algorithm, a.scope_prefix.as_str()), (600, Some(SigningAlg::ES256), "/k8s"));
    assert!(done.text().contains("Operator") && done.text().contains("k8s-gateway"), "{}", done.text());
    // Bad input: shown in the form, nothing registered.
    for (field, value, says) in [
        ("lifetime_minutes", "90", "lifetimeSecs must be between"),
        ("lifetime_minutes", "ten", "whole minutes"),
        ("scope_prefix", "no-slash", "Scope prefix"),
        ("roles", "NoSuchRole", "does not exist"),
        ("name", "k8s", "exists"),
    ] {
        let mut f = vec![("name", "other"), ("roles", "Operator")];
        f.retain(|(k, _)| *k != field);
        f.push((field, value));
        let page = web.post("/manage/audiences", &f).await;
        assert_eq!(page.status, 422, "{field}={value}");
        assert!(crate::portal::unescape(&page.text()).contains(says), "{field}={value}: {}", page.text());
    }
    assert_eq!(s.admin.list_audiences().await.expect("list").items.len(), 1);
    // A forged form changes nothing.
    web.set_csrf("forged");
    let forged = web.post(&format!("/manage/audiences/{}/delete", a.id), &[]).await;
    assert_eq!(forged.status, 403);
    assert!(s.admin.get_audience("k8s").await.is_ok(), "still there");
    // Removing it.
    web.open("/manage/audiences").await;
    let gone = web.submit(&format!("/manage/audiences/{}/delete", a.id), &[]).await;
    assert_eq!(gone.flash().as_deref(), Some("Removed the audience."));
    assert_eq!(code(s.admin.get_audience("k8s").await), "not_found");
    s.stop().await;
}

async fn a_user_without_the_action_cannot_manage_audiences(b: Backend) {
    let s = TestServer::start(&b).await;
    let a = s
        .admin
        .create_audience(&CreateAudience {
            name: "api".into(),
            roles: Some(vec!["Reader".into()]),
            scope_prefix: None,
            lifetime_secs: None,
            algorithm: None,
            introspector: None,
        })
        .await
        .expect("audience");
    let bob = s.user_with_password("bob", PW).await;
    // A Reader at / reads the list but gets no form; writing is refused.
    s.assign(bob, role::READER, "/", AssignmentKind::Active, None).await;
    let web = Browser::new(&s);
    web.sign_in("bob", PW, None).await;
    let page = web.open("/manage/audiences").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("api") && !page.has("Register audience"), "{}", page.text());
    let refused = web.post("/manage/audiences", &[("name", "mine")]).await;
    assert_eq!(refused.status, 403);
    let refused = web.post(&format!("/manage/audiences/{}/delete", a.id), &[]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(s.admin.list_audiences().await.expect("list").items.len(), 1, "nothing changed");
    // A user with no role at all: the page is refused.
    s.user_with_password("carol", PW).await;
    let web = Browser::new(&s);
    web.sign_in("carol", PW, None).await;
    assert_eq!(web.open("/manage/audiences").await.status, 403);
    s.stop().await;
}

crate::backend_tests!(administrators_manage_audiences_in_the_portal, a_user_without_the_action_cannot_manage_audiences);
