//! Hostile input to reports: bad formats, kinds, dates, ranges and scopes.

use crate::harness::prelude::*;
use crate::hostile::{Body, Mode, Who, case, fixture, run};

/// Reports: bad formats, kinds, dates, ranges and scopes.
async fn bad_report_input(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let bad = ["invalid_input"];
    let mut cases = Vec::new();
    for (label, path) in [
        ("format=xml", "/api/v1/reports/access?format=xml"),
        ("format=CSV;", "/api/v1/reports/access?format=csv%3B"),
        ("kind=standing", "/api/v1/reports/access?kind=standing"),
        ("format=pdf", "/api/v1/reports/activations?format=pdf"),
        ("from=yesterday", "/api/v1/reports/activations?from=yesterday"),
        ("to=2026-13-01", "/api/v1/reports/activations?to=2026-13-01T00:00:00Z"),
        ("from=12", "/api/v1/reports/activations?from=12x"),
    ] {
        cases.push(case(format!("reports: {label}"), "GET", path, Body::Empty, 400, &bad));
    }
    for (label, path) in [
        ("under=a (relative)", "/api/v1/reports/access?under=a"),
        ("under=/a//b", "/api/v1/reports/access?under=%2Fa%2F%2Fb"),
        ("under=/a/ (trailing slash)", "/api/v1/reports/access?under=%2Fa%2F"),
        ("activations under=x", "/api/v1/reports/activations?under=x"),
    ] {
        cases.push(case(
            format!("reports: {label}"),
            "GET",
            path,
            Body::Empty,
            400,
            &["invalid_scope", "invalid_input"],
        ));
    }
    let window = ["invalid_window"];
    cases.push(
        case(
            "activations: from after to",
            "GET",
            "/api/v1/reports/activations?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            Body::Empty,
            400,
            &window,
        )
        .mentions("before"),
    );
    cases.push(case(
        "activations: an empty range",
        "GET",
        "/api/v1/reports/activations?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        Body::Empty,
        400,
        &window,
    ));
    cases.push(
        case(
            "activations: more than ten years",
            "GET",
            "/api/v1/reports/activations?from=2000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            Body::Empty,
            400,
            &window,
        )
        .mentions("days"),
    );
    cases.push(case(
        "access: an unknown principal",
        "GET",
        "/api/v1/reports/access?principal=nobody",
        Body::Empty,
        404,
        &[],
    ));
    cases.push(case("access: an unknown role", "GET", "/api/v1/reports/access?role=NoSuchRole", Body::Empty, 404, &[]));
    cases.push(
        case(
            "access: alice may not read reports",
            "GET",
            "/api/v1/reports/access?under=%2Fa",
            Body::Empty,
            403,
            &["forbidden"],
        )
        .by(Who::Alice),
    );
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_report_input_is_refused(b: Backend) {
    bad_report_input(b, Mode::Regular).await;
}

crate::backend_tests!(bad_report_input_is_refused);
