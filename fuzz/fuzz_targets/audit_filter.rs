//! The audit list's filters (`GET /api/v1/audit?...`): any query string goes through the server's
//! own query extractor (axum's `Query`) and its checks (filter lengths, page size, cursor) without
//! a panic, and what is accepted is bounded: names, action and cursor no longer than any value they
//! could match, a valid scope, a page size of 1 to 1000 and a cursor holding a sequence number.

#![no_main]

use axum::extract::Query;
use axum::http::Uri;
use libfuzzer_sys::fuzz_target;
use pim_api::AuditQuery;
use pim_domain::ScopePath;
use pim_domain::permission::MAX_ACTION_LEN;
use pim_domain::principal::MAX_NAME_LEN;
use pim_domain::role::MAX_ROLE_NAME_LEN;
use pim_domain::scope::MAX_SCOPE_LEN;
use pim_server::handlers::audit::{MAX_CURSOR_LEN, check_filter_lengths};
use pim_server::paging;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    // A request line the server could receive at all (hyper refuses what `Uri` refuses).
    let Ok(uri) = format!("/api/v1/audit?{query}").parse::<Uri>() else { return };
    let Ok(Query(q)) = Query::<AuditQuery>::try_from_uri(&uri) else { return };
    if check_filter_lengths(&q).is_err() {
        return;
    }
    let Ok(limit) = paging::limit(q.limit) else { return };
    let Ok(before_seq) = paging::decode::<i64>(q.cursor.as_deref()) else { return };

    // Accepted: every field is bounded.
    assert!((1..=1000).contains(&limit));
    assert!(q.actor.as_ref().is_none_or(|v| v.len() <= MAX_NAME_LEN));
    assert!(q.principal.as_ref().is_none_or(|v| v.len() <= MAX_NAME_LEN));
    assert!(q.role.as_ref().is_none_or(|v| v.len() <= MAX_ROLE_NAME_LEN));
    assert!(q.action.as_ref().is_none_or(|v| v.len() <= MAX_ACTION_LEN));
    assert!(q.cursor.as_ref().is_none_or(|v| v.len() <= MAX_CURSOR_LEN));
    assert_eq!(before_seq.is_some(), q.cursor.is_some());
    if let Some(scope) = &q.scope {
        assert!(scope.as_str().len() <= MAX_SCOPE_LEN);
        assert_eq!(ScopePath::parse(scope.as_str()).as_ref(), Ok(scope));
    }

    // The filters re-encode to a query string that the server reads back as the same filters.
    let encoded = serde_urlencoded::to_string(&q).expect("filters encode");
    let again: Uri = format!("/api/v1/audit?{encoded}").parse().expect("an encoded query is a valid URI");
    let Query(back) = Query::<AuditQuery>::try_from_uri(&again).expect("re-encoded filters parse");
    assert_eq!(back, q, "{encoded}");
});
