//! pim authorizes its own API with the roles it manages, at the scope concerned.
//!
//! `every_endpoint_with_every_role` walks every endpoint of docs/API.md with a holder of every
//! built-in role (plus no role, an eligible-only Global Administrator, a role held through a group,
//! and no token at all) and compares allow / deny with a table written by hand from SPEC section 3
//! and API.md's table of pim's own actions. Refused writes must change nothing and be audited.
//! The `*_authz.rs` files check scope containment and time bounds area by area.

mod endpoints;
mod grants;
pub(crate) mod world;

use std::collections::BTreeSet;

use reqwest::Method;

use crate::harness::prelude::*;
use crate::hostile::{Answer, Body, Db, Raw, assign_req, refused, remove_req};
use endpoints::{Ep, Need, Tok, endpoints};
use grants::all_actions;
use world::{build_world, holdings};

fn expected(grants: &Option<Vec<&'static str>>, need: Need) -> String {
    let Some(g) = grants else {
        return if matches!(need, Need::Public) { "ok".into() } else { "401".into() };
    };
    match need {
        Need::Public | Need::SignedIn => "ok".into(),
        Need::HolderOnly => "403".into(),
        Need::Act(a) => if g.contains(&a) { "ok" } else { "403" }.into(),
        Need::Sees(a) => if g.contains(&a) { "ok, sees" } else { "ok, hidden" }.into(),
    }
}

fn got(e: &Ep, a: &Answer) -> String {
    match a.status {
        401 if a.code() == "unauthenticated" => "401".into(),
        403 if matches!(a.code(), "forbidden" | "not_approver" | "not_reviewer") => "403".into(),
        s if s == e.ok && e.validate_only => {
            let forbidden = a.json["problems"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["code"].as_str() == Some("forbidden")));
            match a.json["valid"].as_bool() {
                Some(true) => "ok".into(),
                Some(false) if forbidden => "403".into(),
                _ => format!("200 {}", a.json["problems"]),
            }
        }
        s if s == e.ok => match &e.sentinel {
            None => "ok".into(),
            Some(id) => {
                let items = a.json["items"].as_array().cloned().unwrap_or_default();
                let sees = items.iter().any(|it| {
                    it["id"].as_str() == Some(id) || (it["scope"].as_str() == Some(id) && it.get("settings").is_some())
                });
                if sees { "ok, sees" } else { "ok, hidden" }.into()
            }
        },
        _ => a.brief(),
    }
}

async fn matrix(b: Backend, full: bool) {
    let s = TestServer::start(&b).await;
    let raw = Raw::new(&s);
    let rows = holdings(full);
    let (world, fxs) = build_world(&s, &rows).await;
    let now = s.engine.now();
    let mut db = Db::open(&s).await;

    // The table covers every endpoint the server documents.
    let doc = raw.send(&Method::GET, "/api/v1/openapi.json", None, &Body::Empty).await.json;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_some() {
                documented.insert(format!("{} {path}", m.to_uppercase()));
            }
        }
    }
    let covered: BTreeSet<String> =
        endpoints(&world, &fxs[0], now).iter().map(|e| format!("{} {}", e.method, e.template)).collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(missing.is_empty(), "endpoints without a row in the authorization matrix: {missing:?}");
    let unknown: Vec<_> = covered.difference(&documented).collect();
    assert!(unknown.is_empty(), "matrix rows for undocumented endpoints: {unknown:?}");
    // And every action pim checks on its own API, in the expectations and in some row.
    let all: BTreeSet<&str> = pim_domain::actions::ALL.iter().copied().collect();
    let expected_actions: BTreeSet<&str> = all_actions().into_iter().collect();
    assert_eq!(expected_actions, all, "all_actions() and pim_domain::actions::ALL differ");
    let needed: BTreeSet<&str> = endpoints(&world, &fxs[0], now)
        .iter()
        .filter_map(|e| match e.need {
            Need::Act(a) | Need::Sees(a) => Some(a),
            _ => None,
        })
        .collect();
    let unexercised: Vec<_> = all.difference(&needed).collect();
    assert!(unexercised.is_empty(), "actions no row of the matrix needs: {unexercised:?}");

    let mut mismatches: Vec<[String; 4]> = Vec::new();
    let mut calls = 0;
    let mut last = None;
    for r in &fxs {
        for e in endpoints(&world, r, now) {
            let want = expected(&r.grants, e.need);
            let token = match (e.tok, &r.token) {
                (_, None) => None,
                (Tok::Main, Some(t)) => Some(t.as_str()),
                (Tok::Logout, Some(_)) => Some(r.logout_token.as_str()),
            };
            let refused = want == "403" || want == "401";
            // The state after the last refused write is still current unless something else wrote.
            let before = match (e.write && refused, last.take()) {
                (false, _) => None,
                (true, Some(snap)) => Some(snap),
                (true, None) => Some(db.snapshot().await),
            };
            let seq = if before.is_some() { db.audit_seq().await } else { 0 };
            let body = e.body.clone().map(Body::Json).unwrap_or(Body::Empty);
            let answer = raw.send(&e.method, &e.path, token, &body).await;
            calls += 1;
            if e.write && !refused || e.tok == Tok::Logout || e.template == "/api/v1/auth/login" {
                last = None;
            }
            let mut have = got(&e, &answer);
            if answer.status >= 400 && !answer.problem_defects().is_empty() {
                have = format!("{have} (bad problem: {:?})", answer.problem_defects());
            }
            if let Some(before) = before {
                let (changes, after) = db.changes_since(&before).await;
                last = Some(after);
                if !changes.is_empty() {
                    have = format!("{have}, CHANGED DATA: {changes:?}");
                }
                if want == "403" {
                    let events = db.events_after(seq).await;
                    if !events.iter().any(|ev| {
                        ev.outcome == "failure"
                            && matches!(ev.error_code.as_deref(), Some("forbidden" | "not_approver" | "not_reviewer"))
                    }) {
                        have = format!("{have}, refusal not audited");
                    }
                }
            }
            if have != want {
                mismatches.push([r.label.clone(), e.label(), want, have]);
            }
        }
        // A token revoked by logout no longer works.
        if r.token.is_some() {
            let a = raw.send(&Method::GET, "/api/v1/me", Some(&r.logout_token), &Body::Empty).await;
            if a.status != 401 {
                mismatches.push([r.label.clone(), "GET /api/v1/me [after logout]".into(), "401".into(), a.brief()]);
            }
        }
    }
    if !mismatches.is_empty() {
        let w0 = mismatches.iter().map(|m| m[0].len()).max().unwrap_or(0).max(4);
        let w1 = mismatches.iter().map(|m| m[1].len()).max().unwrap_or(0).max(8);
        let mut table = format!("\n{:w0$} | {:w1$} | {:10} | got\n", "role", "endpoint", "expected");
        for m in &mismatches {
            table.push_str(&format!("{:w0$} | {:w1$} | {:10} | {}\n", m[0], m[1], m[2], m[3]));
        }
        eprintln!("{table}");
        panic!("{} of {calls} authorization expectations not met:{table}", mismatches.len());
    }
    eprintln!(
        "authorization matrix: {} rows x {} endpoints, {calls} calls, all as expected",
        fxs.len(),
        calls / fxs.len()
    );
    s.stop().await;
}

/// The full matrix: every built-in role (and no role, and no token) against every endpoint. On
/// PostgreSQL a representative slice of roles runs, to keep the suite fast; the endpoints are all there.
async fn every_endpoint_with_every_role(b: Backend) {
    let full = matches!(b, Backend::Sqlite);
    matrix(b, full).await;
}

/// Security Reader: reads everything, the audit history included, and writes nothing.
async fn security_reader_reads_but_never_writes(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (victim, _) = s.user("victim").await;
    let (sr_id, sr) = s.user("auditor").await;
    s.assign(sr_id, role::SECURITY_READER, "/", AssignmentKind::Active, None).await;
    let a = s.assign(victim, ops, "/a", AssignmentKind::Eligible, None).await;
    let events = sr.list_audit(&AuditQuery { limit: Some(1000), ..Default::default() }).await.expect("audit").items;
    assert!(events.iter().any(|e| e.action == "request.adminAssign"), "the auditor reads the whole history");
    assert!(sr.verify_audit().await.expect("verify").ok);
    let exported = sr.export_audit(ExportFormat::Csv, &AuditQuery::default()).await.expect("export");
    assert!(String::from_utf8_lossy(&exported).contains("request.adminAssign"));
    sr.get_assignment(a.id).await.expect("assignments");
    sr.get_request(a.created_by_request).await.expect("requests");
    sr.list_users(&ListQuery::default()).await.expect("directory");
    sr.get_settings(&ops.to_string(), &sp("/a")).await.expect("settings");
    refused!(db, "adminAssign", sr.create_request(&assign_req(victim, ops, "/b", AssignmentKind::Eligible)));
    refused!(db, "adminRemove", sr.create_request(&remove_req(a.id)));
    refused!(db, "settings", sr.put_settings(&ops.to_string(), &sp("/a"), &RoleSettings::default()));
    refused!(db, "settings reset", sr.delete_settings(&ops.to_string(), &sp("/")));
    refused!(db, "create user", sr.create_user(&CreateUser { name: "x".into(), ..Default::default() }));
    refused!(db, "disable user", sr.update_user(victim, &UpdateUser { enabled: Some(false), ..Default::default() }));
    let role = CreateRole { name: "X".into(), description: None, permissions: Permissions::default() };
    refused!(db, "create role", sr.create_role(&role));
    refused!(db, "delete role", sr.delete_role("Ops"));
    let res = CreateResource { scope: sp("/r"), name: "r".into(), kind: "db".into() };
    refused!(db, "create resource", sr.create_resource(&res));
    let token = CreateTokenRequest { name: "t".into(), expires_in_days: None, principal_id: Some(victim) };
    refused!(db, "token for another", sr.create_token(&token));
    s.stop().await;
}

crate::backend_tests!(every_endpoint_with_every_role, security_reader_reads_but_never_writes);
