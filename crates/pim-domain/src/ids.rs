//! Newtype identifiers (UUID v7, so they sort by creation time).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// The id as a UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    };
}

id_type!(
    /// A user, group or service principal.
    PrincipalId
);
id_type!(
    /// An audience (a resource server that accepts pim's signed access tokens).
    AudienceId
);
id_type!(
    /// A role definition.
    RoleId
);

impl PrincipalId {
    /// pim itself, as the one who carries out automatic changes (an access review's results
    /// applied when its instance ends). No principal row has this id; nobody can sign in as it.
    pub const SYSTEM: PrincipalId = PrincipalId(Uuid::nil());
}
id_type!(
    /// An eligible or active assignment.
    AssignmentId
);
id_type!(
    /// A request (every change to assignments is made through one).
    RequestId
);
id_type!(
    /// An API token.
    TokenId
);
id_type!(
    /// A registered SCIM client (an identity provider that provisions pim's directory).
    ScimClientId
);
id_type!(
    /// A registered resource.
    ResourceId
);
id_type!(
    /// An audit event.
    EventId
);
id_type!(
    /// A request to change protected role settings.
    SettingsChangeId
);
id_type!(
    /// An MFA factor (a TOTP authenticator).
    MfaFactorId
);
id_type!(
    /// A notification in the outbox (one delivery to one recipient over one channel).
    NotificationId
);
id_type!(
    /// An access review definition.
    ReviewId
);
id_type!(
    /// One instance (run) of an access review.
    ReviewInstanceId
);
id_type!(
    /// One item of an access review instance.
    ReviewItemId
);
id_type!(
    /// A security alert.
    AlertId
);
id_type!(
    /// One reported activity event (what a principal did in a system).
    ActivityEventId
);
