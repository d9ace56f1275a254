//! `pim login --oidc NAME`: the loopback redirect of RFC 8252. Listens on `127.0.0.1:0`, has the
//! server begin the sign-in, sends the browser to the provider, takes the code from the redirect and
//! has the server finish it.

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use pim_api::{LoginResponse, OidcFinishRequest, OidcStartRequest};
use pim_client::Client;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::output;

/// How long the browser has to come back.
const WAIT: Duration = Duration::from_secs(300);

/// What the redirect brought: the code and state, or the provider's error.
#[derive(Debug, PartialEq, Eq)]
enum Redirect {
    Code { code: String, state: String },
    Error(String),
}

/// Signs in through `provider` and answers the session.
pub async fn sign_in(
    client: &Client,
    provider: &str,
    token_name: String,
    browser: bool,
    step_up: bool,
) -> anyhow::Result<LoginResponse> {
    let listener = TcpListener::bind("127.0.0.1:0").await.context("listening on 127.0.0.1 for the redirect")?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    // Binds the sign-in to this process: finishing needs the secret, not just the state and code.
    let secret = pim_engine::oidc::new_cli_secret();
    let binding = pim_engine::oidc::cli_binding(&secret);
    let start = client.oidc_start(provider, &OidcStartRequest { redirect_uri, step_up, binding }).await?;
    output::note(&format!("Sign in with {provider} in your browser: {}", start.authorization_url));
    if browser {
        open_browser(&start.authorization_url);
    }
    let (code, state) = tokio::time::timeout(WAIT, wait_for_redirect(&listener, &start.state))
        .await
        .map_err(|_| anyhow!("no sign-in came back within {} minutes", WAIT.as_secs() / 60))??;
    let body = OidcFinishRequest { state, code, binding_secret: secret, token_name: Some(token_name) };
    Ok(client.oidc_finish(provider, &body).await?)
}

/// Answers requests on the listener until the one that carries the code (or the provider's error).
async fn wait_for_redirect(listener: &TcpListener, state: &str) -> anyhow::Result<(String, String)> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let Some(target) = read_target(&mut stream).await else {
            respond(&mut stream, 400, "Bad request.").await;
            continue;
        };
        match parse_redirect(&target) {
            None => respond(&mut stream, 404, "Not found.").await,
            Some(Redirect::Error(e)) => {
                respond(&mut stream, 200, "The sign-in failed; see the terminal.").await;
                bail!("the identity provider answered: {e}");
            }
            Some(Redirect::Code { state: got, .. }) if got != state => {
                respond(&mut stream, 400, "This is not the sign-in pim started.").await;
            }
            Some(Redirect::Code { code, state }) => {
                respond(&mut stream, 200, "Signed in to pim. You can close this tab.").await;
                return Ok((code, state));
            }
        }
    }
}

/// The request target of an HTTP/1 `GET` (the head is read up to 8 KiB).
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 || buf.len() > 8192 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut line = head.lines().next()?.split(' ');
    (line.next()? == "GET").then_some(())?;
    line.next().map(str::to_owned)
}

/// The code and state (or error) of a request to `/callback`.
fn parse_redirect(target: &str) -> Option<Redirect> {
    let url = url::Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    if url.path() != "/callback" {
        return None;
    }
    let get = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    if let Some(e) = get("error") {
        let d = get("error_description").map(|d| format!(" ({d})")).unwrap_or_default();
        return Some(Redirect::Error(format!("{e}{d}")));
    }
    Some(Redirect::Code { code: get("code")?, state: get("state")? })
}

async fn respond(stream: &mut TcpStream, status: u16, text: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>pim</title></head><body><p>{text}</p></body></html>"
    );
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Tries to open `url` in the desktop's browser; the URL is printed anyway.
fn open_browser(url: &str) {
    let program = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let spawned = std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        output::note("(no browser could be opened: open the URL above yourself)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_gives_the_code_and_state_or_the_error() {
        assert_eq!(
            parse_redirect("/callback?code=abc&state=xyz&iss=http%3A%2F%2Fidp"),
            Some(Redirect::Code { code: "abc".into(), state: "xyz".into() })
        );
        assert_eq!(
            parse_redirect("/callback?error=access_denied&error_description=no"),
            Some(Redirect::Error("access_denied (no)".into()))
        );
        assert_eq!(parse_redirect("/favicon.ico"), None);
        assert_eq!(parse_redirect("/callback?code=abc"), None);
    }
}
