//! Empty filters: on every list of the OpenAPI document, a query parameter with an empty value
//! (`?actor=`) is a clear `400` naming it, never a 404 or a silent filter.

use reqwest::Method;

use crate::harness::prelude::*;
use crate::hostile::{Body, Raw};

async fn an_empty_filter_is_a_clear_400_on_every_list(b: Backend) {
    let s = TestServer::start(&b).await;
    let raw = Raw::new(&s);
    let token = s.admin.token().expect("admin token").to_owned();
    let doc = raw.send(&Method::GET, "/api/v1/openapi.json", None, &Body::Empty).await.json;
    let mut tried = 0;
    let mut wrong = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(get) = item.get("get") else { continue };
        if path.contains('{') {
            continue;
        }
        let params = get["parameters"].as_array().cloned().unwrap_or_default();
        // The required parameters (an enum each, e.g. `format`) get their first value.
        let base: Vec<String> = params
            .iter()
            .filter(|p| p["in"] == "query" && p["required"] == true)
            .map(|p| {
                format!("{}={}", p["name"].as_str().expect("name"), p["schema"]["enum"][0].as_str().expect("enum"))
            })
            .collect();
        let path = &format!("{path}?{}", base.join("&"));
        for p in params.iter().filter(|p| p["in"] == "query") {
            let name = p["name"].as_str().expect("name");
            let with_empty = raw.send(&Method::GET, &format!("{path}&{name}="), Some(&token), &Body::Empty).await;
            tried += 1;
            if with_empty.status != 400 || !with_empty.detail().contains(&format!("'{name}' is empty")) {
                wrong.push(format!("{path}&{name}=: {}", with_empty.brief()));
            }
        }
    }
    assert!(tried > 40, "{tried} list parameters tried");
    assert!(wrong.is_empty(), "empty filters not refused clearly:\n{}", wrong.join("\n"));
}

crate::backend_tests!(an_empty_filter_is_a_clear_400_on_every_list);
