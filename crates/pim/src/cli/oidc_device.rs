//! `pim login --oidc NAME --device`: the device authorization grant (RFC 8628) for machines without
//! a browser. The server begins it at the provider; this prints the code and where to enter it, and
//! polls the server at the interval it answers until the person approved it (or it expired).

use std::time::Duration;

use anyhow::{anyhow, bail};
use pim_api::{LoginResponse, OidcDevicePollRequest, OidcDeviceStartRequest, OidcDeviceStatus};
use pim_client::Client;

use super::output;

/// Signs in through `provider` with the device grant and answers the session.
pub async fn sign_in(client: &Client, provider: &str, token_name: String) -> anyhow::Result<LoginResponse> {
    // Binds the sign-in to this process, as the loopback flow does: polling needs the secret.
    let secret = pim_engine::oidc::new_cli_secret();
    let binding = pim_engine::oidc::cli_binding(&secret);
    let start = client.oidc_device_start(provider, &OidcDeviceStartRequest { binding }).await?;
    output::note(&format!(
        "To sign in with {provider}, open {} in a browser on any device and enter the code {}",
        start.verification_uri, start.user_code
    ));
    if let Some(complete) = &start.verification_uri_complete {
        output::note(&format!("(or open {complete}, which carries the code)"));
    }
    let body =
        OidcDevicePollRequest { handle: start.handle.clone(), binding_secret: secret, token_name: Some(token_name) };
    let mut interval = start.interval;
    // The server refuses an expired sign-in; this only bounds a loop whose server never says so.
    let give_up =
        std::time::Instant::now() + Duration::from_millis(pim_engine::oidc::DEVICE_MAX_MS.unsigned_abs() + 60_000);
    loop {
        tokio::time::sleep(Duration::from_secs(interval.max(1))).await;
        let polled = client.oidc_device_poll(provider, &body).await?;
        match polled.status {
            OidcDeviceStatus::Pending => interval = polled.interval.unwrap_or(interval),
            OidcDeviceStatus::SignedIn => {
                return polled.login.ok_or_else(|| anyhow!("the server said signed in but sent no session"));
            }
        }
        if std::time::Instant::now() >= give_up {
            bail!("the code was not approved in time; run pim login --oidc {provider} --device again");
        }
    }
}
