//! Bad calls, the refusal each must get, and the runner that sends them and checks the database.

use reqwest::Method;

use super::{Body, Db, Fx, Raw};
use crate::harness::prelude::*;

/// Who makes a call.
#[derive(Clone, Debug)]
pub(crate) enum Who {
    Admin,
    Alice,
    Nobody,
    Header(String),
}

/// One bad call and the refusal it must get.
pub(crate) struct Case {
    label: String,
    method: Method,
    path: String,
    who: Who,
    body: Body,
    want: u16,
    codes: Vec<&'static str>,
    mentions: Option<String>,
    /// The server bug (found and fixed) this case guards against.
    bug: Option<&'static str>,
}

pub(crate) fn case(
    label: impl Into<String>,
    method: &str,
    path: impl Into<String>,
    body: Body,
    want: u16,
    codes: &[&'static str],
) -> Case {
    Case {
        label: label.into(),
        method: Method::from_bytes(method.as_bytes()).expect("method"),
        path: path.into(),
        who: Who::Admin,
        body,
        want,
        codes: codes.to_vec(),
        mentions: None,
        bug: None,
    }
}

impl Case {
    /// Made by `who` (the administrator unless told).
    pub(crate) fn by(mut self, who: Who) -> Case {
        self.who = who;
        self
    }
    /// The detail must mention this (case-insensitive), so the message is clear about what is wrong.
    pub(crate) fn mentions(mut self, what: impl Into<String>) -> Case {
        self.mentions = Some(what.into());
        self
    }
    /// Marks the case as guarding against a server bug that was found and fixed.
    pub(crate) fn bug(mut self, why: &'static str) -> Case {
        self.bug = Some(why);
        self
    }
}

/// Which cases a test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every case: must pass.
    Regular,
}

pub(crate) fn raw_json(text: impl Into<String>) -> Body {
    Body::Bytes(Some("application/json"), text.into().into_bytes())
}

/// Sends every case and checks: the status and code, a well-formed problem (content type, code,
/// detail, status, requestId), never a 5xx, and no change in the database (failure audit events aside).
pub(crate) async fn run(s: &TestServer, fx: &Fx, mode: Mode, cases: Vec<Case>) {
    // Cases marked with a bug guard against one found and fixed; all run in both modes.
    let _ = mode;
    let raw = Raw::new(s);
    let mut db = Db::open(s).await;
    let admin_token = s.admin.token().expect("admin token").to_owned();
    let mut before = db.snapshot().await;
    let mut failures = Vec::new();
    let n = cases.len();
    for c in cases {
        let answer = match &c.who {
            Who::Admin => raw.send(&c.method, &c.path, Some(&admin_token), &c.body).await,
            Who::Alice => raw.send(&c.method, &c.path, Some(&fx.alice_token), &c.body).await,
            Who::Nobody => raw.send(&c.method, &c.path, None, &c.body).await,
            Who::Header(h) => raw.send_auth(&c.method, &c.path, Some(h), &c.body).await,
        };
        let mut problems = Vec::new();
        if answer.status >= 500 {
            problems.push("5xx: the server failed on bad input".to_owned());
        } else if answer.status != c.want {
            problems.push(format!("status {} (want {})", answer.status, c.want));
        }
        if !c.codes.is_empty() && !c.codes.contains(&answer.code()) {
            problems.push(format!("code '{}' (want {})", answer.code(), c.codes.join(" or ")));
        }
        if let Some(m) = &c.mentions
            && !answer.detail().to_lowercase().contains(&m.to_lowercase())
        {
            problems.push(format!("the detail does not mention '{m}'"));
        }
        if c.want >= 400 {
            problems.extend(answer.problem_defects());
        }
        let (changes, after) = db.changes_since(&before).await;
        problems.extend(changes.into_iter().map(|c| format!("CHANGED: {c}")));
        before = after;
        if !problems.is_empty() {
            let path: String = c.path.chars().take(90).collect();
            let bug = c.bug.map(|b| format!(" [regression: {b}]")).unwrap_or_default();
            failures.push(format!(
                "{}{bug} ({} {path})\n    got:  {}\n    fix:  {}",
                c.label,
                c.method,
                answer.brief(),
                problems.join("; ")
            ));
        }
    }
    if !failures.is_empty() {
        let report = failures.join("\n");
        eprintln!("{report}");
        panic!("{} of {n} bad inputs were not refused properly:\n{report}", failures.len());
    }
    eprintln!("{n} bad inputs ({mode:?}) refused properly");
}

/// Unknown fields deep inside bodies are refused too.
pub(crate) const NESTED_UNKNOWN: &str =
    "role permissions accept unknown fields (Permissions lacks deny_unknown_fields)";
