//! What the hostile tests (`*_hostile.rs`, `*_authz.rs`, `api_authz/`) share: a raw HTTP client,
//! database snapshots, bad-input cases and their runner, fixtures, and checks that a call was refused.

mod calls;
mod cases;
mod db;
mod fixture;
mod raw;
mod reviews;

pub(crate) use calls::*;
pub(crate) use cases::*;
pub(crate) use db::*;
pub(crate) use fixture::*;
pub(crate) use raw::*;
pub(crate) use reviews::*;

/// Like `backend_tests!`, for tests of bugs found and fixed; each names the bug it guards against.
#[macro_export]
macro_rules! regression_tests {
    ($($name:ident => $why:literal),* $(,)?) => {
        mod regressions {
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    #[doc = $why]
                    async fn $name() {
                        super::super::$name($crate::harness::Backend::Sqlite).await
                    }
                )*
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    #[doc = $why]
                    async fn $name() {
                        if let Some(b) = $crate::harness::postgres() {
                            super::super::$name(b).await
                        }
                    }
                )*
            }
        }
    };
}
