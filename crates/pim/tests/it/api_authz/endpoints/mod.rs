//! The matrix's table: every endpoint, what it needs from its caller, and the answer when allowed.

mod assignments;
mod directory;
mod own;
mod reviews;
mod tokens;

use reqwest::Method;
use serde_json::Value;

use super::world::{RowFx, World};
use crate::harness::prelude::*;

/// What an endpoint needs from its caller.
#[derive(Clone, Copy, Debug)]
pub(super) enum Need {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in principal (about itself).
    SignedIn,
    /// This pim action at `/` (or at a scope below `/` that the request concerns).
    Act(&'static str),
    /// A list anyone signed in may call; items need this action at their scope.
    Sees(&'static str),
    /// Only the holder / requester may do it: refused for everyone else, administrators included.
    HolderOnly,
}

/// Which of the row's tokens a call uses: logging out ends a token of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tok {
    Main,
    Logout,
}

/// One endpoint of the table, for one row.
pub(super) struct Ep {
    pub(super) method: Method,
    pub(super) template: &'static str,
    pub(super) variant: &'static str,
    pub(super) path: String,
    pub(super) body: Option<Value>,
    pub(super) need: Need,
    pub(super) ok: u16,
    pub(super) write: bool,
    pub(super) tok: Tok,
    pub(super) sentinel: Option<String>,
    pub(super) validate_only: bool,
}

impl Ep {
    pub(super) fn label(&self) -> String {
        if self.variant.is_empty() {
            format!("{} {}", self.method, self.template)
        } else {
            format!("{} {} [{}]", self.method, self.template, self.variant)
        }
    }
    fn write(mut self) -> Ep {
        self.write = true;
        self
    }
    fn sentinel(mut self, id: impl ToString) -> Ep {
        self.sentinel = Some(id.to_string());
        self
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn ep(
    method: &str,
    template: &'static str,
    variant: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    need: Need,
    ok: u16,
) -> Ep {
    Ep {
        method: Method::from_bytes(method.as_bytes()).expect("method"),
        template,
        variant,
        path: path.into(),
        body,
        need,
        ok,
        write: false,
        tok: Tok::Main,
        sentinel: None,
        validate_only: false,
    }
}

/// A request body.
fn req(body: Value) -> Option<Value> {
    Some(body)
}

/// A time in a body.
pub(super) fn t(ts: Timestamp) -> String {
    ts.to_rfc3339()
}

/// Every endpoint, in the order the matrix calls them (some calls rely on earlier ones).
pub(super) fn endpoints(w: &World, r: &RowFx, now: Timestamp) -> Vec<Ep> {
    [own::rows(w, r, now), directory::rows(w, r), assignments::rows(w, r, now), reviews::rows(w, r), tokens::rows(r)]
        .into_iter()
        .flatten()
        .collect()
}
