//! What `[[oidc]]` configures for one OpenID Connect provider, and its checks.

use std::collections::BTreeMap;

/// What a session that did not pass MFA at the provider does when a role asks for MFA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StepUp {
    /// pim's own TOTP (the default).
    #[default]
    Totp,
    /// Back to the provider with `max_age=0` (and `acr_values` when `mfa_acr` names some).
    Idp,
}

impl StepUp {
    /// `totp` or `idp`.
    pub fn parse(s: &str) -> Option<StepUp> {
        match s {
            "totp" => Some(StepUp::Totp),
            "idp" => Some(StepUp::Idp),
            _ => None,
        }
    }
    /// Its name in the configuration and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            StepUp::Totp => "totp",
            StepUp::Idp => "idp",
        }
    }
}

/// One OpenID Connect provider users sign in through.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcProviderOptions {
    /// A unique name, in URLs and `pim login --oidc NAME`.
    pub name: String,
    /// Shown on the sign-in page ("Sign in with ...").
    pub display_name: String,
    /// The issuer; discovery reads `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The (confidential) client of the portal, and of the CLI when `cli_client_id` is not set.
    pub client_id: String,
    /// Its secret (from a file or the environment; never logged).
    pub client_secret: Option<String>,
    /// A public (native) client for the CLI's loopback sign-in.
    pub cli_client_id: Option<String>,
    /// The scopes asked for (`openid` is always asked).
    pub scopes: Vec<String>,
    /// The claim that names a user created on first sign-in.
    pub username_claim: String,
    /// Create a pim user on the first sign-in of an unknown subject.
    pub create_users: bool,
    /// Link an unknown subject to the existing user whose email equals its verified `email`.
    pub link_by_verified_email: bool,
    /// The claim that lists the user's groups at the provider.
    pub groups_claim: String,
    /// Provider group -> pim group: the user's static memberships of these pim groups follow the claim.
    pub group_map: BTreeMap<String, String>,
    /// An `amr` value here means the user passed MFA at the provider.
    pub mfa_amr: Vec<String>,
    /// An `acr` value here means the user passed MFA at the provider.
    pub mfa_acr: Vec<String>,
    /// What a session without MFA from the provider does when a role asks for MFA.
    pub step_up: StepUp,
    /// Accept ID tokens signed with the client secret (HS256, HS384, HS512); off by default, since
    /// whoever holds the secret could mint them.
    pub allow_symmetric_id_tokens: bool,
}

impl OidcProviderOptions {
    /// A provider with the defaults of `[[oidc]]`.
    pub fn new(name: &str, issuer: &str, client_id: &str) -> OidcProviderOptions {
        OidcProviderOptions {
            name: name.to_owned(),
            display_name: name.to_owned(),
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: None,
            cli_client_id: None,
            scopes: ["openid", "profile", "email"].map(String::from).to_vec(),
            username_claim: "preferred_username".into(),
            create_users: false,
            link_by_verified_email: false,
            groups_claim: "groups".into(),
            group_map: BTreeMap::new(),
            mfa_amr: vec!["mfa".to_owned()],
            mfa_acr: Vec::new(),
            step_up: StepUp::Totp,
            allow_symmetric_id_tokens: false,
        }
    }

    /// Checks the settings; the message names the provider and the setting.
    pub fn validate(&self) -> Result<(), String> {
        let n = &self.name;
        let name_ok = !n.is_empty()
            && n.len() <= 64
            && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(format!(
                "oidc provider '{n}': a name must be 1-64 lower-case letters, digits, '-' or '_' (it is part of URLs)"
            ));
        }
        if self.display_name.trim().is_empty()
            || self.display_name.len() > 100
            || self.display_name.chars().any(char::is_control)
        {
            return Err(format!("oidc provider '{n}': display_name must be 1-100 printable characters"));
        }
        match url::Url::parse(&self.issuer) {
            Ok(u) if u.scheme() == "https" || (u.scheme() == "http" && is_loopback_host(&u)) => {}
            Ok(u) if u.scheme() == "http" => {
                return Err(format!(
                    "oidc provider '{n}': the issuer must be an https URL (plain http only on 127.0.0.1 or localhost)"
                ));
            }
            _ => return Err(format!("oidc provider '{n}': the issuer '{}' is not an https URL", self.issuer)),
        }
        if self.client_id.trim().is_empty() {
            return Err(format!("oidc provider '{n}': client_id is empty"));
        }
        if self.cli_client_id.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err(format!("oidc provider '{n}': cli_client_id is empty"));
        }
        if let Some(s) = self.scopes.iter().find(|s| s.is_empty() || s.contains(char::is_whitespace)) {
            return Err(format!("oidc provider '{n}': the scope '{s}' is empty or has a space"));
        }
        if self.username_claim.is_empty() || self.groups_claim.is_empty() {
            return Err(format!("oidc provider '{n}': username_claim and groups_claim must name a claim"));
        }
        for (idp_group, pim_group) in &self.group_map {
            if idp_group.trim().is_empty() {
                return Err(format!("oidc provider '{n}': group_map has an empty IdP group (mapped to '{pim_group}')"));
            }
            if let Err(e) = pim_domain::principal::validate_name(pim_group) {
                return Err(format!("oidc provider '{n}': group_map.\"{idp_group}\" is not a pim group name: {e}"));
            }
        }
        if self.step_up == StepUp::Idp && self.mfa_amr.is_empty() && self.mfa_acr.is_empty() {
            return Err(format!(
                "oidc provider '{n}': step_up = \"idp\" needs mfa_amr or mfa_acr, to know the provider's MFA"
            ));
        }
        Ok(())
    }
}

/// Whether `u`'s host is the loopback interface.
pub(crate) fn is_loopback_host(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

impl std::fmt::Debug for OidcProviderOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProviderOptions")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("cli_client_id", &self.cli_client_id)
            .field("scopes", &self.scopes)
            .field("create_users", &self.create_users)
            .field("link_by_verified_email", &self.link_by_verified_email)
            .field("group_map", &self.group_map)
            .field("mfa_amr", &self.mfa_amr)
            .field("mfa_acr", &self.mfa_acr)
            .field("step_up", &self.step_up)
            .field("allow_symmetric_id_tokens", &self.allow_symmetric_id_tokens)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_with_clear_messages_and_the_secret_is_never_shown() {
        let mut o = OidcProviderOptions::new("corp", "https://login.example.com/t/v2.0", "pim");
        o.client_secret = Some("hunter2-secret".into());
        assert_eq!(o.validate(), Ok(()));
        assert!(!format!("{o:?}").contains("hunter2"), "{o:?}");
        let bad = |f: &dyn Fn(&mut OidcProviderOptions), want: &str| {
            let mut b = o.clone();
            f(&mut b);
            let e = b.validate().unwrap_err();
            assert!(e.contains(want), "{e}");
        };
        bad(&|b| b.name = "Corp Login".into(), "lower-case");
        bad(&|b| b.issuer = "http://login.example.com".into(), "https");
        bad(&|b| b.issuer = "not a url".into(), "not an https URL");
        bad(&|b| b.client_id = " ".into(), "client_id");
        bad(&|b| b.scopes.push("a b".into()), "scope");
        // group_map: an empty IdP group, or a pim group that cannot be a group name, names the key.
        bad(
            &|b| _ = b.group_map.insert(" ".into(), "dba".into()),
            "oidc provider 'corp': group_map has an empty IdP group",
        );
        bad(
            &|b| _ = b.group_map.insert("idp-dba".into(), String::new()),
            "group_map.\"idp-dba\" is not a pim group name",
        );
        bad(
            &|b| _ = b.group_map.insert("idp-ops".into(), "ops team".into()),
            "group_map.\"idp-ops\" is not a pim group name",
        );
        let mut mapped = o.clone();
        mapped.group_map.insert("idp-dba".into(), "database-admins".into());
        assert_eq!(mapped.validate(), Ok(()));
        let mut local = o.clone();
        local.issuer = "http://127.0.0.1:9000".into();
        assert_eq!(local.validate(), Ok(()), "plain http on loopback, for tests");
        local.mfa_amr.clear();
        local.step_up = StepUp::Idp;
        assert!(local.validate().unwrap_err().contains("mfa_amr or mfa_acr"));
    }
}
