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

mod alerts;
mod approvals;
mod audit;
mod authz;
mod bad_input;
mod check;
mod directory;
mod lists;
mod mfa;
mod notify;
mod portal;
mod portal_manage;
mod portal_oversight;
mod portal_work;
mod replicas;
mod reports;
mod requests;
mod reviews;
mod unauthenticated;
