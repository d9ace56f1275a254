//! JSON request bodies: any bytes into `parse_json_object` for every body type the API reads never
//! panic and are refused with a 400; an accepted body serializes and parses back to an equal value.
//!
//! Input: one selector byte (which body type), then the body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pim_api::*;
use pim_server::extract::parse_json_object;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Parses `body` as `T` the way the server does and checks the round trip of what it accepts.
fn check<T: DeserializeOwned + Serialize + PartialEq>(name: &str, body: &[u8]) {
    match parse_json_object::<T>(body) {
        Ok(value) => {
            let again = serde_json::to_vec(&value).expect("an accepted body serializes");
            let back = parse_json_object::<T>(&again).unwrap_or_else(|e| {
                panic!("{name}: its own serialization {:?} is refused: {e:?}", String::from_utf8_lossy(&again))
            });
            assert!(back == value, "{name}: {:?} parses to another value", String::from_utf8_lossy(&again));
            // Serializing is stable from then on.
            assert_eq!(serde_json::to_vec(&back).expect("serializes"), again, "{name}");
        }
        Err(e) => assert_eq!(e.status().as_u16(), 400, "{name}: {e:?}"),
    }
}

macro_rules! bodies {
    ($($t:ty),* $(,)?) => {
        const BODIES: &[(&str, fn(&[u8]))] = &[$((stringify!($t), |b| check::<$t>(stringify!($t), b))),*];
    };
}

bodies!(
    SetupRequest,
    LoginRequest,
    CreateTokenRequest,
    ConfirmTotp,
    VerifyMfa,
    CreateUser,
    UpdateUser,
    CreateGroup,
    UpdateGroup,
    CreateServicePrincipal,
    UpdateServicePrincipal,
    CreateRole,
    RoleSettings,
    CreateResource,
    ValidateScope,
    CreateRequest,
    DecideRequest,
    BulkDecision,
    DecideSettingsChange,
    CompleteReview,
    CreateReview,
    DecideReviewItems,
    DecideReviewItem,
    CheckRequest,
    UpdateAlertRule,
    DismissAlert,
);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let (_, run) = BODIES[usize::from(selector) % BODIES.len()];
    run(body);
});
