//! pim's integration suite: the real server over HTTP with the real client, on SQLite and on
//! PostgreSQL (`PIM_TEST_POSTGRES_URL`), with a manual clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

/// Generates, for each `async fn name(backend: Backend)`, one test on SQLite and one on PostgreSQL.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::harness::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(b) = $crate::harness::postgres() {
                        super::$name(b).await
                    }
                }
            )*
        }
    };
}

// The layout, by area: `<area>.rs` tests what the area does; beside it, `<area>_hostile.rs` holds
// the hostile input the area must refuse (a 4xx problem+json that changes nothing) and
// `<area>_authz.rs` who may do what there. The area `api` is every endpoint at once: `api_hostile.rs`
// (malformed bodies, bad ids, page sizes and cursors, hostile text, unrouted paths) and `api_authz/`
// (every endpoint with every built-in role). The tools they share live in `hostile/`.
mod activity;
mod alerts;
mod alerts_hostile;
mod api_authz;
mod api_hostile;
mod approvals;
mod approvals_hostile;
mod audit;
mod auth_hostile;
mod bounds_hostile;
mod check;
mod connectors;
mod directory;
mod directory_authz;
mod directory_hostile;
mod hostile;
mod lists;
mod mfa;
mod mfa_hostile;
mod notify;
mod oidc;
mod oidc_device;
mod policy;
mod portal;
mod portal_audiences;
mod portal_connectors;
mod portal_manage;
mod portal_oversight;
mod portal_work;
mod replicas;
mod reports;
mod reports_hostile;
mod requests;
mod requests_authz;
mod requests_hostile;
mod reviews;
mod reviews_authz;
mod reviews_hostile;
mod scim;
mod sign_in;
mod ssh;
mod ssh_hostile;
mod tokens;
mod tokens_authz;
mod tokens_example;
mod unauthenticated;
