//! The provider side through the `openidconnect` crate: discovery (with the JWKS), the
//! authorization URL with PKCE, the code exchange and the ID token's validation. No hand-written OAuth.

use std::sync::Arc;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
};
use pim_domain::Timestamp;
use serde::{Deserialize, Serialize};

use super::options::OidcProviderOptions;

/// The claims pim reads beyond the standard ones (groups, or a username claim of the provider's own).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraClaims {
    /// Every claim the crate does not read itself, by name.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for ExtraClaims {}

type Fields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenResponse = StandardTokenResponse<Fields, CoreTokenType>;
type Client = openidconnect::Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What an ID token said, once validated.
#[derive(Clone, Debug)]
pub struct VerifiedIdentity {
    /// `sub`.
    pub subject: String,
    /// `email`, and whether the provider verified it.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: bool,
    /// `amr`.
    pub amr: Vec<String>,
    /// `acr`.
    pub acr: Option<String>,
    /// `auth_time`.
    pub auth_time: Option<Timestamp>,
    /// Every claim, as JSON (the configured username and groups claims are read from it).
    pub claims: serde_json::Value,
}

/// A sign-in begun: the URL to send the browser to, and what finishing needs.
#[derive(Debug)]
pub struct Begun {
    /// The provider's authorization URL with `state`, `nonce` and the PKCE challenge.
    pub url: String,
    /// The `state`.
    pub state: String,
    /// The `nonce`.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
}

/// Why the provider's side failed.
#[derive(Debug)]
pub enum ProviderError {
    /// The provider could not be reached or answered nonsense (discovery, the token endpoint).
    Unavailable(String),
    /// The provider refused the code, or the ID token is not valid.
    Refused(String),
}

/// One provider's discovered metadata (with its JWKS) and an HTTP client that follows no redirects.
#[derive(Clone)]
pub struct Discovered {
    metadata: CoreProviderMetadata,
    http: openidconnect::reqwest::Client,
}

impl std::fmt::Debug for Discovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovered").field("issuer", self.metadata.issuer()).finish_non_exhaustive()
    }
}

/// Reads the provider's discovery document and JWKS.
pub async fn discover(o: &OidcProviderOptions) -> Result<Arc<Discovered>, ProviderError> {
    let http = openidconnect::reqwest::ClientBuilder::new()
        // Following redirects would open the client to SSRF.
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
    let issuer = IssuerUrl::new(o.issuer.clone()).map_err(|e| ProviderError::Unavailable(e.to_string()))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| ProviderError::Unavailable(format!("discovery at {}: {}", o.issuer, error_chain(&e))))?;
    Ok(Arc::new(Discovered { metadata, http }))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl Discovered {
    fn client(&self, client_id: &str, secret: Option<&str>, redirect: &str) -> Result<Client, ProviderError> {
        let redirect = RedirectUrl::new(redirect.to_owned()).map_err(|e| ProviderError::Refused(e.to_string()))?;
        Ok(Client::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(client_id.to_owned()),
            secret.map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_redirect_uri(redirect))
    }

    /// The authorization URL for a new sign-in (code flow, `S256`), with `max_age=0` and
    /// `acr_values` when `step_up` asks the provider for a fresh MFA.
    pub fn begin(
        &self,
        o: &OidcProviderOptions,
        client_id: &str,
        redirect: &str,
        step_up: bool,
    ) -> Result<Begun, ProviderError> {
        let client = self.client(client_id, None, redirect)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for s in o.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(s.clone()));
        }
        if step_up {
            req = req.set_max_age(std::time::Duration::ZERO);
            for acr in &o.mfa_acr {
                req = req.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
            }
        }
        let (url, state, nonce) = req.url();
        Ok(Begun {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` and validates the ID token (signature through the JWKS, `iss`, `aud`,
    /// `azp`, `exp` against `now`, `nonce`).
    #[allow(clippy::too_many_arguments)]
    pub async fn finish(
        &self,
        client_id: &str,
        secret: Option<&str>,
        redirect: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
        now: Timestamp,
    ) -> Result<VerifiedIdentity, ProviderError> {
        use openidconnect::TokenResponse as _;
        let client = self.client(client_id, secret, redirect)?;
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ProviderError::Unavailable(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        let response = request.request_async(&self.http).await.map_err(|e| match &e {
            openidconnect::RequestTokenError::ServerResponse(r) => {
                ProviderError::Refused(format!("the provider refused the code: {}", r.error()))
            }
            other => ProviderError::Unavailable(format!("the token endpoint: {}", error_chain(other))),
        })?;
        let token = response
            .id_token()
            .ok_or_else(|| ProviderError::Refused("the provider answered no ID token".to_owned()))?;
        let clock = move || chrono::DateTime::from_timestamp_millis(now.0).unwrap_or_default();
        let verifier = client.id_token_verifier().set_time_fn(clock);
        let claims = token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|e| ProviderError::Refused(format!("the ID token is not valid: {}", error_chain(&e))))?;
        let json = serde_json::to_value(claims).unwrap_or_default();
        Ok(VerifiedIdentity {
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            amr: claims
                .auth_method_refs()
                .map(|v| v.iter().map(|a| a.as_str().to_owned()).collect())
                .unwrap_or_default(),
            acr: claims.auth_context_ref().map(|a| a.as_str().to_owned()),
            auth_time: claims.auth_time().map(|t| Timestamp(t.timestamp_millis())),
            claims: json,
        })
    }
}
