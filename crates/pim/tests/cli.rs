//! End-to-end tests of the built `pim` binary: the README's walkthrough run verbatim against a real
//! `pim serve` child process, configuration precedence, `pim admin bootstrap`, and how failures are
//! reported (exit codes, `error: <message> (<code>)` on standard error).
//!
//! The README's command blocks are found by their info string: ```` ```sh walkthrough ````,
//! ```` ```sh bootstrap ```` and ```` ```sh check-api ````. Each line is run with `sh -c` in a scratch
//! working directory, with the built `pim` first on `PATH`, `$SERVER` and `$SECRET` set to what the
//! server printed, and `PIM_CONFIG_DIR` pointing at a scratch directory.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

/// Environment variables the `pim` binary reads; removed from every child so the caller's own
/// settings cannot leak into a test.
const PIM_VARS: &[&str] = &[
    "PIM_LISTEN",
    "PIM_DATA_DIR",
    "PIM_DATABASE_URL",
    "PIM_CONFIG",
    "PIM_CONFIG_DIR",
    "PIM_SERVER",
    "PIM_TOKEN",
    "PIM_OUTPUT",
    "PIM_SETUP_SECRET",
    "PIM_SECRET_KEY_FILE",
    "RUST_LOG",
    "PIM_SMTP_URL",
    "PIM_SMTP_FROM",
    "PIM_SMTP_USERNAME",
    "PIM_SMTP_PASSWORD",
];

/// The Global Administrator built-in role's id.
const GLOBAL_ADMINISTRATOR: &str = "00000000-0000-7000-8000-000000000001";

fn pim_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pim")
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The command lines of every ```` ```sh TAG ```` block of `markdown`, in order: blank lines and
/// comment lines dropped, `\` continuations joined.
fn blocks(markdown: &str, tag: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    let mut pending = String::new();
    for raw in markdown.lines() {
        let line = raw.trim_end();
        if !inside {
            let info: Vec<&str> = line.strip_prefix("```").unwrap_or_default().split_whitespace().collect();
            inside = info.len() == 2 && info[0] == "sh" && info[1] == tag;
            continue;
        }
        if line.starts_with("```") {
            assert!(pending.is_empty(), "a continued line runs into the end of a ```sh {tag} block");
            inside = false;
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                pending.push_str(part.trim_start());
                pending.push(' ');
            }
            None => {
                pending.push_str(line.trim_start());
                let cmd = std::mem::take(&mut pending);
                if !cmd.trim().is_empty() && !cmd.trim_start().starts_with('#') {
                    lines.push(cmd.trim().to_owned());
                }
            }
        }
    }
    assert!(!inside, "unterminated ```sh {tag} block in README.md");
    lines
}

// ---------------------------------------------------------------------------------------------------
// The server as a child process.

/// A running `pim serve`; killed when dropped (also when a test panics).
struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
    /// `http://127.0.0.1:PORT`.
    url: String,
    /// What it printed on standard output before it listened.
    stdout: Vec<String>,
    /// The one-time setup secret, when it printed one.
    secret: Option<String>,
    log: PathBuf,
}

impl Server {
    /// Starts `pim serve ARGS` in `cwd` with `env`, and waits until it prints its address.
    fn start(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let log = cwd.join(format!("serve-{}.log", STARTED.fetch_add(1, Ordering::Relaxed)));
        let mut cmd = std::process::Command::new(pim_bin());
        cmd.arg("serve").args(args).current_dir(cwd);
        for v in PIM_VARS {
            cmd.env_remove(v);
        }
        cmd.env("RUST_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(File::create(&log).expect("server log file"));
        let mut child = cmd.spawn().expect("spawn pim serve");
        let out = child.stdout.take().expect("stdout");
        let mut server =
            Server { child, addr: String::new(), url: String::new(), stdout: Vec::new(), secret: None, log };
        let (tx, rx) = mpsc::channel();
        // Keeps draining standard output for the server's whole life.
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        loop {
            let line = match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(l) => l,
                Err(e) => panic!(
                    "pim serve {args:?} did not print its address ({e}); it printed {:?}; its log:\n{}",
                    server.stdout,
                    server.log_text()
                ),
            };
            server.stdout.push(line.clone());
            if let Some(rest) = line.split("--secret ").nth(1) {
                server.secret = rest.split_whitespace().next().map(str::to_owned);
            }
            if let Some(url) = line.strip_prefix("pim: listening on ") {
                server.url = url.trim().to_owned();
                server.addr = server.url.strip_prefix("http://").expect("an http:// address").to_owned();
                break;
            }
        }
        server
    }

    fn port(&self) -> u16 {
        self.addr.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A minimal HTTP/1.1 exchange: the status code and the body.
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read the answer");
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((resp.as_str(), ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

// ---------------------------------------------------------------------------------------------------
// The CLI.

/// Runs `pim` (directly, or README lines through `sh`) with one credentials directory and working
/// directory.
struct Cli {
    config_dir: PathBuf,
    cwd: PathBuf,
    env: Vec<(String, String)>,
}

/// What a finished command did.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Ran {
    fn from(o: Output) -> Ran {
        Ran {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Cli {
    fn new(root: &Path) -> Cli {
        let cwd = root.join("work");
        std::fs::create_dir_all(&cwd).expect("work dir");
        Cli { config_dir: root.join("config"), cwd, env: Vec::new() }
    }

    fn with_env(mut self, k: &str, v: &str) -> Cli {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }

    fn prepare(&self, cmd: &mut Command) {
        for v in PIM_VARS {
            cmd.env_remove(v);
        }
        cmd.env("PIM_CONFIG_DIR", &self.config_dir).current_dir(&self.cwd).timeout(Duration::from_secs(120));
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
    }

    /// `pim ARGS` with `stdin`.
    fn raw(&self, args: &[&str], stdin: &str) -> Ran {
        let mut cmd = Command::cargo_bin("pim").expect("the pim binary");
        self.prepare(&mut cmd);
        cmd.args(args).write_stdin(stdin);
        cmd.output().expect("run pim").into()
    }

    /// `pim ARGS`, which must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, "")
    }

    /// `pim ARGS` with `stdin`, which must succeed; its standard output.
    fn ok_in(&self, args: &[&str], stdin: &str) -> String {
        let r = self.raw(args, stdin);
        assert_eq!(r.code, Some(0), "pim {args:?} failed:\n{}{}", r.stdout, r.stderr);
        r.stdout
    }

    /// `pim -o json ARGS`, which must succeed; its output parsed.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["-o", "json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("pim {all:?} printed no JSON ({e}):\n{out}"))
    }

    /// `pim ARGS` with `stdin`, which must fail with exit code 1 and print nothing on standard output;
    /// its standard error.
    fn fails(&self, args: &[&str], stdin: &str) -> String {
        let r = self.raw(args, stdin);
        assert_eq!(r.code, Some(1), "pim {args:?} should fail with 1:\n{}{}", r.stdout, r.stderr);
        assert_eq!(r.stdout, "", "pim {args:?} printed a result although it failed");
        assert!(r.stderr.starts_with("error: "), "pim {args:?}: {}", r.stderr);
        r.stderr
    }

    /// One README line through `sh -c`, with the built `pim` first on `PATH`; it must succeed.
    fn sh(&self, line: &str) -> String {
        let bin_dir = pim_bin().parent().expect("bin dir").to_path_buf();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![bin_dir];
        dirs.extend(std::env::split_paths(&path));
        let mut cmd = Command::new("sh");
        self.prepare(&mut cmd);
        cmd.env("PATH", std::env::join_paths(dirs).expect("PATH")).arg("-c").arg(line);
        let r: Ran = cmd.output().expect("run sh").into();
        assert_eq!(r.code, Some(0), "README line failed: {line}\n{}{}", r.stdout, r.stderr);
        r.stdout
    }
}

/// The value of `key:` in a `key: value` listing.
fn field<'a>(listing: &'a str, key: &str) -> Option<&'a str> {
    fields(listing, key).into_iter().next()
}

/// Every value of `key:` in listings (a request's outcome lists the request, then the assignment).
fn fields<'a>(listing: &'a str, key: &str) -> Vec<&'a str> {
    listing.lines().filter_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(str::trim)).collect()
}

fn items(v: &Value) -> &Vec<Value> {
    v["items"].as_array().unwrap_or_else(|| panic!("no items in {v}"))
}

/// The caller's activations in a `whoami` answer.
fn activations(me: &Value) -> Vec<&Value> {
    let active = me["activeAssignments"].as_array().unwrap_or_else(|| panic!("no activeAssignments in {me}"));
    active.iter().filter(|a| a["activatedFrom"].is_string()).collect()
}

/// The table form of an RFC 3339 time with milliseconds: to the second.
fn to_second(t: &str) -> String {
    format!("{}Z", &t[..19])
}

// ---------------------------------------------------------------------------------------------------
// 1b. The README's approval section, verbatim, after the walkthrough.

#[test]
fn readme_approval_runs_verbatim() {
    let text = readme();
    let setup = blocks(&text, "walkthrough");
    let steps = blocks(&text, "approvals");
    assert!(steps.len() >= 8, "the approval block has only {} lines", steps.len());
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path");
    let server = Server::start(tmp.path(), &["--listen", "127.0.0.1:0", "--data-dir", data_arg], &[]);
    let secret = server.secret.clone().unwrap_or_else(|| panic!("no setup secret in {:?}", server.stdout));
    let cli = Cli::new(tmp.path()).with_env("SERVER", &server.url).with_env("SECRET", &secret);
    for line in &setup {
        cli.sh(line);
    }
    let mut approved = false;
    for line in &steps {
        let out = cli.sh(line);
        let words: Vec<&str> = line.split(" | ").last().unwrap_or(line).split_whitespace().collect();
        match words.get(1..).unwrap_or_default() {
            ["activate", ..] => {
                assert_eq!(field(&out, "status"), Some("PendingApproval"), "{out}");
                assert_eq!(field(&out, "ticket"), Some("jira:OPS-7"), "{out}");
                assert!(
                    field(&out, "approval").is_some_and(|a| a.starts_with("stage 1 of 1: 0 of 1 approval, times out ")),
                    "{out}"
                );
            }
            ["requests", "--mine", ..] => assert!(out.contains("PendingApproval"), "{out}"),
            ["requests", "--pending"] => {
                assert!(out.contains("INC-43: migrate orders") && out.contains("jira:OPS-7"), "{out}");
                assert!(out.contains("alice") && out.contains("/prod/db") && out.contains("1h00m"), "{out}");
                let pending = cli.json(&["requests", "--pending"]);
                assert_eq!(items(&pending).len(), 1, "{pending}");
            }
            ["approve", ..] => {
                assert!(out.contains("Provisioned"), "{out}");
                approved = true;
            }
            ["whoami"] => {
                let me = cli.json(&["whoami"]);
                let acts = activations(&me);
                assert_eq!(acts.len(), 1, "{me}");
                assert_eq!(acts[0]["scope"], "/prod/db");
            }
            _ => {}
        }
    }
    assert!(approved, "the approval block approves");
}

// ---------------------------------------------------------------------------------------------------
// 1. The README walkthrough, verbatim.

#[test]
fn readme_walkthrough_runs_verbatim() {
    let text = readme();
    let steps = blocks(&text, "walkthrough");
    assert!(steps.len() >= 20, "the walkthrough blocks have only {} lines", steps.len());
    assert!(steps.iter().all(|l| l.contains("pim ")), "every walkthrough line runs pim: {steps:?}");
    assert!(text.contains("SERVER=http://127.0.0.1:8420") && text.contains("SECRET="), "the variables");
    for quickstart in ["cargo run --release -- serve", "cargo test"] {
        assert!(text.contains(&format!("\n{quickstart} ")), "the quickstart shows `{quickstart}`");
    }

    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path");
    let server = Server::start(tmp.path(), &["--listen", "127.0.0.1:0", "--data-dir", data_arg], &[]);
    assert!(data.join("pim.db").is_file(), "the server made its database in --data-dir");
    assert_eq!(http(&server.addr, "GET", "/healthz", &[], ""), (200, "ok".to_owned()));
    assert_eq!(http(&server.addr, "GET", "/readyz", &[], "").0, 200);
    let secret = server.secret.clone().unwrap_or_else(|| panic!("no setup secret in {:?}", server.stdout));
    let printed = format!("pim setup --server {} --username admin --secret {secret}", server.url);
    assert!(server.stdout.iter().any(|l| l.trim() == printed), "{:?}", server.stdout);

    let cli = Cli::new(tmp.path()).with_env("SERVER", &server.url).with_env("SECRET", &secret);
    // Secrets are URL-safe base64, so one may begin with '-': that is a wrong secret, not a usage error.
    let hyphen = ["setup", "--server", &server.url, "--username", "admin", "--secret", "-n0t-it", "--password-stdin"];
    let err = cli.fails(&hyphen, "admin-password-1\n");
    assert!(err.ends_with("(invalid_setup_secret)\n"), "{err}");
    let mut write_checks = 0;
    let mut role_id = String::new();
    let mut group_id = String::new();
    let mut csv_rows = 0;
    let mut seen = BTreeSet::new();
    for line in &steps {
        let out = cli.sh(line);
        let has = |s: &str| assert!(out.contains(s), "`{line}` should print {s:?}:\n{out}");
        let words: Vec<&str> = line.split(" | ").last().unwrap_or(line).split_whitespace().collect();
        match words.get(1..).unwrap_or_default() {
            ["setup", ..] => {
                has("Created admin (");
                has(&format!("Signed in to {} as admin", server.url));
                // The secret is spent: a second setup is refused with the server's reason.
                let again = ["setup", "--server", &server.url, "--username", "eve", "--secret", &secret];
                let err = cli.fails(&[&again[..], &["--password-stdin"]].concat(), "eve-password-1\n");
                assert_eq!(err, "error: setup is complete: an account already exists (setup_completed)\n");
            }
            ["login", ..] => {
                let user = words.iter().skip_while(|w| **w != "--username").nth(1).expect("a --username");
                has(&format!("Signed in to {} as {user} (until ", server.url));
                let me = cli.json(&["whoami"]);
                assert_eq!(me["principal"]["name"], *user);
            }
            ["whoami", ..] => {
                assert_eq!(field(&out, "name"), Some("admin"), "{out}");
                has("Global Administrator");
                let me = cli.json(&["whoami"]);
                let active = me["activeAssignments"].as_array().expect("activeAssignments");
                assert!(active.iter().any(|a| a["roleId"] == GLOBAL_ADMINISTRATOR && a["scope"] == "/"), "{me}");
            }
            ["users", "create", ..] => {
                assert_eq!(field(&out, "name"), Some("alice"), "{out}");
                assert_eq!(field(&out, "display name"), Some("Alice Example"), "{out}");
                has("alice@example.com");
                let alice = cli.json(&["users", "show", "alice"]);
                assert_eq!(alice["kind"], "user");
                assert_eq!(alice["email"], "alice@example.com");
            }
            ["groups", "create", ..] => {
                has("db-admins");
                has("Database administrators");
                group_id = cli.json(&["groups", "show", "db-admins"])["id"].as_str().expect("id").to_owned();
            }
            ["groups", "add-member", ..] => {
                assert_eq!(out, "Added alice to db-admins.\n");
                let members = cli.json(&["groups", "members", "db-admins"]);
                let names: Vec<&Value> = items(&members).iter().map(|m| &m["name"]).collect();
                assert_eq!(names, ["alice"]);
            }
            ["scopes", "add", scope, ..] => has(&format!("scope:   {scope}\n")),
            ["scopes", "list", ..] => {
                has("orders-db");
                has("postgres.database");
                let list = cli.json(&["scopes", "list", "--under", "/prod"]);
                let scopes: Vec<&str> = items(&list).iter().filter_map(|r| r["scope"].as_str()).collect();
                assert_eq!(scopes, ["/prod", "/prod/db"]);
            }
            ["roles", "create", ..] => {
                has("custom");
                has("postgres.*");
                let role = cli.json(&["roles", "show", "Database Operator"]);
                assert_eq!(role["builtin"], false);
                role_id = role["id"].as_str().expect("id").to_owned();
            }
            ["assign", principal, ..] => {
                assert_eq!(field(&out, "action"), Some("adminAssign"), "{out}");
                assert_eq!(field(&out, "status"), Some("Provisioned"), "{out}");
                let kind = if *principal == "alice" { "eligible" } else { "active" };
                assert_eq!(fields(&out, "kind"), [kind, kind], "{out}");
            }
            ["settings", "set", ..] => {
                assert_eq!(field(&out, "require MFA"), Some("no"), "{out}");
                assert_eq!(field(&out, "max activation"), Some("4h"), "{out}");
                assert_eq!(field(&out, "defined at"), Some("/prod (here)"), "{out}");
                // The scopes below inherit it.
                let below = cli.json(&["settings", "show", "Database Operator", "--scope", "/prod/db"]);
                assert_eq!(below["definedAt"], "/prod");
                assert_eq!(below["settings"]["requireMfaOnActivation"], false);
                assert_eq!(below["settings"]["activationMaxMinutes"], 240);
            }
            ["assignments", "list", ..] => {
                has("Database Operator");
                has("eligible");
                let list = cli.json(&["assignments", "list", "--principal", "alice"]);
                assert_eq!(items(&list).len(), 1, "{list}");
                assert_eq!(items(&list)[0]["roleId"], role_id.as_str());
            }
            ["check", "alice", "postgres.tables.read", "/prod/db"] => {
                assert_eq!(field(&out, "result"), Some("allowed"), "{out}");
                assert_eq!(field(&out, "role"), Some("Reader"), "{out}");
                // The group's name, or its id when the caller may not read the directory (alice may not).
                let via = field(&out, "via group");
                assert!(via == Some("db-admins") || via == Some(group_id.as_str()), "{out}");
                assert_eq!(field(&out, "ends"), Some("never"), "{out}");
                let r = cli.json(&["check", "alice", "postgres.tables.read", "/prod/db"]);
                assert_eq!(r["allowed"], true);
                assert_eq!(r["viaGroup"], group_id.as_str());
                assert_eq!(r["scope"], "/prod");
            }
            ["check", "alice", "postgres.tables.write", "/prod/db"] => {
                write_checks += 1;
                let args = ["check", "alice", "postgres.tables.write", "/prod/db"];
                let r = cli.json(&args);
                if write_checks == 2 {
                    // After `pim activate`: allowed by the activation, which ends in an hour.
                    assert_eq!(field(&out, "result"), Some("allowed"), "{out}");
                    assert_eq!(field(&out, "role"), Some("Database Operator"), "{out}");
                    assert_eq!(field(&out, "assigned at"), Some("/prod/db"), "{out}");
                    assert_eq!(r["allowed"], true, "{r}");
                    assert_eq!(r["roleId"], role_id.as_str());
                    assert_eq!(r["scope"], "/prod/db");
                    let ends = r["endsAt"].as_str().expect("endsAt");
                    assert_eq!(field(&out, "ends"), Some(to_second(ends).as_str()), "{out}");
                    assert_eq!(field(&out, "assignment"), r["assignmentId"].as_str(), "{out}");
                } else {
                    // Before the activation and after the deactivation.
                    assert_eq!(field(&out, "result"), Some("denied"), "{out}");
                    assert_eq!(field(&out, "role"), None, "{out}");
                    assert_eq!(r["allowed"], false, "{r}");
                    assert!(r.get("endsAt").is_none_or(Value::is_null), "{r}");
                }
            }
            ["activate", ..] => {
                assert_eq!(field(&out, "action"), Some("selfActivate"), "{out}");
                assert_eq!(field(&out, "status"), Some("Provisioned"), "{out}");
                assert_eq!(fields(&out, "kind"), ["active", "activation"], "{out}");
                assert_eq!(fields(&out, "state"), ["in effect"], "{out}");
                assert_eq!(field(&out, "justification"), Some("INC-42: orders-db is slow"), "{out}");
                let me = cli.json(&["whoami"]);
                let activations = activations(&me);
                let [a] = activations.as_slice() else { panic!("one activation: {me}") };
                assert_eq!(a["scope"], "/prod/db");
                assert!(a["activatedFrom"].is_string(), "{a}");
                let ms = |k: &str| {
                    let t = a["window"][k].as_str().expect("a time");
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).expect("rfc3339")
                };
                assert_eq!(ms("end") - ms("start"), time::Duration::hours(1), "{a}");
            }
            ["deactivate", ..] => {
                assert_eq!(field(&out, "action"), Some("selfDeactivate"), "{out}");
                assert_eq!(field(&out, "status"), Some("Provisioned"), "{out}");
                assert_eq!(fields(&out, "state"), ["removed"], "{out}");
                let me = cli.json(&["whoami"]);
                assert!(activations(&me).is_empty(), "{me}");
            }
            ["requests", ..] => {
                has("selfActivate");
                has("selfDeactivate");
                let list = cli.json(&["requests", "--mine"]);
                let actions: BTreeSet<&str> = items(&list).iter().filter_map(|r| r["action"].as_str()).collect();
                assert!(actions.is_superset(&BTreeSet::from(["selfActivate", "selfDeactivate"])), "{list}");
            }
            ["audit", "list", ..] => {
                for action in ["user.create", "group.addMember", "request.adminAssign", "request.selfActivate"] {
                    has(action);
                }
                has("request.selfDeactivate");
                let list = cli.json(&["audit", "list", "--principal", "alice", "--action", "request."]);
                let actions: Vec<&str> = items(&list).iter().filter_map(|e| e["action"].as_str()).collect();
                // Newest first.
                assert_eq!(actions, ["request.selfDeactivate", "request.selfActivate", "request.adminAssign"]);
                let activation = &items(&list)[1];
                assert_eq!(activation["justification"], "INC-42: orders-db is slow");
                assert_eq!(activation["actorName"], "alice");
                assert_eq!(activation["outcome"], "success");
            }
            ["audit", "export", "--format", "csv", "--out", "audit.csv"] => {
                let csv = std::fs::read_to_string(cli.cwd.join("audit.csv")).expect("audit.csv was written");
                let mut rows = csv.lines();
                let header = rows.next().expect("a header");
                assert!(header.starts_with("seq,at,action,outcome,"), "{header}");
                assert!(header.contains(",hash"), "{header}");
                let seqs: Vec<u64> = rows.map(|r| r.split(',').next().expect("seq").parse().expect("seq")).collect();
                csv_rows = seqs.len();
                assert!(csv_rows >= 15, "{csv}");
                assert_eq!(seqs, (1..=csv_rows as u64).collect::<Vec<_>>(), "oldest first, no gaps");
                assert!(csv.contains("request.selfActivate") && csv.contains("INC-42: orders-db is slow"));
            }
            ["audit", "export", "--format", "json"] => {
                let events: Vec<Value> = serde_json::from_str(&out).expect("a JSON array of events");
                assert!(events.len() >= csv_rows && csv_rows > 0, "{} events, {csv_rows} CSV rows", events.len());
                assert_eq!(events[0]["seq"], 1);
                assert_eq!(events[0]["action"], "setup.bootstrap");
                for pair in events.windows(2) {
                    assert_eq!(pair[1]["prevHash"], pair[0]["hash"], "a hash chain");
                }
            }
            ["audit", "verify"] => {
                assert_eq!(field(&out, "intact"), Some("yes"), "{out}");
                let report = cli.json(&["audit", "verify"]);
                assert_eq!(report["ok"], true, "{report}");
                assert!(report["checked"].as_u64().is_some_and(|n| n >= csv_rows as u64), "{report}");
            }
            ["logout", ..] => {
                assert_eq!(out, format!("Signed out of {} (admin).\n", server.url));
                let err = cli.fails(&["whoami"], "");
                assert!(err.contains("run pim login"), "{err}");
            }
            other => panic!("the test does not know the walkthrough line `{line}` ({other:?}): add its assertions"),
        }
        seen.insert(words.get(1).copied().unwrap_or_default().to_owned());
    }
    let every = ["setup", "login", "whoami", "users", "groups", "scopes", "roles", "assign", "settings", "assignments"];
    let every = every.iter().chain(&["check", "activate", "deactivate", "requests", "audit", "logout"]);
    for command in every {
        assert!(seen.contains(*command), "the walkthrough no longer runs `pim {command}`");
    }
    assert_eq!(write_checks, 3, "the walkthrough checks the write action before, during and after");
    assert!(!role_id.is_empty() && !group_id.is_empty() && csv_rows > 0, "the walkthrough did every step");

    // The Check API section: a service principal with a token asks over HTTP.
    cli.ok_in(&["login", "--server", &server.url, "--username", "admin", "--password-stdin"], "admin-password-1\n");
    let mut token = None;
    for line in blocks(&text, "check-api") {
        let out = cli.sh(&line);
        if line.starts_with("pim tokens create") {
            token = field(&out, "token").map(str::to_owned);
        }
    }
    let token = token.expect("pim tokens create printed the token");
    let bearer = format!("Bearer {token}");
    let ask = |action: &str| {
        let body = format!(r#"{{"principal": "alice", "action": "{action}", "scope": "/prod/db"}}"#);
        let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
        let (status, body) = http(&server.addr, "POST", "/api/v1/check", &headers, &body);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).expect("JSON")
    };
    assert_eq!(ask("postgres.tables.read")["allowed"], true);
    assert_eq!(ask("postgres.tables.write")["allowed"], false);
    // The same token works for the CLI.
    let out = cli.ok(&["--token", &token, "check", "alice", "postgres.tables.read", "/prod/db"]);
    assert_eq!(field(&out, "result"), Some("allowed"), "{out}");
}

// ---------------------------------------------------------------------------------------------------
// 2. Configuration precedence on the real binary.

#[test]
fn configuration_flags_over_environment_over_pim_toml() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let file_port = free_port();
    let toml = format!("listen = \"127.0.0.1:{file_port}\"\ndata_dir = \"file-data\"\njob_interval_secs = 5\n");
    std::fs::write(dir.join("pim.toml"), toml).expect("pim.toml");

    // pim.toml alone.
    let from_file = Server::start(dir, &[], &[]);
    assert_eq!(from_file.port(), file_port, "{:?}", from_file.stdout);
    assert!(dir.join("file-data/pim.db").is_file());
    assert!(from_file.secret.is_some(), "a new database asks for setup: {:?}", from_file.stdout);
    assert_eq!(http(&from_file.addr, "GET", "/healthz", &[], "").0, 200);

    // The environment over the file (the file's port is taken, so 127.0.0.1:0 must come from PIM_LISTEN).
    let env = [("PIM_LISTEN", "127.0.0.1:0"), ("PIM_DATA_DIR", "env-data")];
    let from_env = Server::start(dir, &[], &env);
    assert_ne!(from_env.port(), file_port);
    assert!(dir.join("env-data/pim.db").is_file());

    // Flags over the environment.
    let flag_port = free_port();
    let listen = format!("127.0.0.1:{flag_port}");
    let from_flags = Server::start(dir, &["--listen", &listen, "--data-dir", "flag-data"], &env);
    assert_eq!(from_flags.port(), flag_port);
    assert!(dir.join("flag-data/pim.db").is_file());
    assert_eq!(http(&from_flags.addr, "GET", "/healthz", &[], ""), (200, "ok".to_owned()));

    // Each server uses its own database: only the one set up knows the account.
    let cli = Cli::new(dir);
    let secret = from_flags.secret.clone().expect("a setup secret");
    let setup = ["--server", &from_flags.url, "setup", "--username", "root", "--secret", &secret];
    cli.ok_in(&[&setup[..], &["--password-stdin"]].concat(), "root-password-1\n");
    let err = cli.fails(&["--server", &from_env.url, "login", "-u", "root", "--password-stdin"], "root-password-1\n");
    assert_eq!(err, "error: wrong user name or password (invalid_credentials)\n");
    drop((from_file, from_env, from_flags));

    // A broken pim.toml stops the server with a clear message.
    std::fs::write(dir.join("pim.toml"), "lisen = \"127.0.0.1:0\"\n").expect("pim.toml");
    let in_dir = Cli { config_dir: cli.config_dir.clone(), cwd: dir.to_path_buf(), env: Vec::new() };
    let r = in_dir.raw(&["serve"], "");
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("error: reading pim.toml") && r.stderr.contains("lisen"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------------
// 3 and 4. `pim admin bootstrap`, sign-in failures, and how errors are reported.

#[test]
fn bootstrap_sign_in_and_errors() {
    let text = readme();
    let bootstrap = blocks(&text, "bootstrap");
    assert_eq!(bootstrap.len(), 1, "{bootstrap:?}");
    let tmp = tempfile::tempdir().expect("tempdir");
    let cli = Cli::new(tmp.path());
    let args = ["admin", "bootstrap", "--data-dir", "./pim-data", "--username", "admin", "--password-stdin"];

    // A too-short password is refused, and creates nobody.
    let err = cli.fails(&args, "short\n");
    assert_eq!(err, "error: a password must be 8 to 1024 characters long (invalid_input)\n");

    // The README's line, then again: refused once any account exists.
    let out = cli.sh(&bootstrap[0]);
    assert!(out.starts_with("created admin (") && out.contains("Global Administrator at /"), "{out}");
    let r = cli.raw(&["admin", "bootstrap", "--username", "root", "--password-stdin"], "root-password-1\n");
    assert_eq!(r.code, Some(1), "a second bootstrap must fail:\n{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stderr, "error: setup is complete: an account already exists (setup_completed)\n",
        "the default --data-dir is ./pim-data"
    );
    assert_eq!(cli.fails(&args, "admin-password-1\n"), r.stderr);

    // The server over the bootstrapped directory (the default ./pim-data) asks for no setup.
    let server = Server::start(&cli.cwd, &["--listen", "127.0.0.1:0"], &[]);
    assert_eq!(server.secret, None, "{:?}", server.stdout);
    let url = server.url.as_str();
    let expected = [format!("pim: the portal is at {url}/ (open it in a browser)"), format!("pim: listening on {url}")];
    assert_eq!(server.stdout, expected, "only the portal and the address");

    // Commands without a stored sign-in say how to sign in.
    let err = cli.fails(&["users", "list"], "");
    assert_eq!(err, "error: no server given: pass --server URL (or set PIM_SERVER), or run pim login first\n");
    let err = cli.fails(&["--server", url, "users", "list"], "");
    assert_eq!(err, format!("error: not signed in to {url}: run pim login --server {url} --username NAME\n"));

    // A wrong password.
    let login = ["login", "--server", url, "--username", "admin", "--password-stdin"];
    let err = cli.fails(&login, "wrong-password\n");
    assert_eq!(err, "error: wrong user name or password (invalid_credentials)\n");
    let err = cli.fails(&["-o", "json", "login", "--server", url, "--username", "nobody", "--password-stdin"], "x\n");
    assert!(err.ends_with("(invalid_credentials)\n"), "{err}");
    assert!(!cli.config_dir.join("credentials.json").exists(), "a failed sign-in stores nothing");

    // The right one; JSON output never shows the token.
    let r = cli.raw(&[&["-o", "json"][..], &login].concat(), "admin-password-1\n");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let signed_in: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(signed_in["username"], "admin");
    assert_eq!(signed_in["server"], url);
    assert!(signed_in.get("token").is_none(), "{signed_in}");

    // Server refusals: `error: <message> (<code>)` on standard error, exit code 1, nothing on stdout.
    cli.ok_in(&["users", "create", "bob", "--password-stdin"], "bob-password-1\n");
    let err = cli.fails(&["assign", "bob", "No Such Role", "--scope", "/prod", "--eligible"], "");
    assert_eq!(err, "error: role 'No Such Role' does not exist (not_found)\n");
    let err = cli.fails(&["-o", "json", "users", "create", "BOB"], "");
    assert_eq!(err, "error: the name 'BOB' is already taken (name_taken)\n");
    cli.ok(&["assign", "bob", "Reader", "--scope", "/prod/a", "--eligible"]);

    let bob = Cli { config_dir: tmp.path().join("bob-config"), cwd: cli.cwd.clone(), env: Vec::new() };
    bob.ok_in(&["login", "--server", url, "--username", "bob", "--password-stdin"], "bob-password-1\n");
    let activate = ["activate", "Reader", "--scope", "/prod/b", "--duration", "1h", "-j", "need it"];
    let err = bob.fails(&activate, "");
    assert_eq!(err, "error: bob is not eligible for Reader at /prod/b (not_eligible)\n");
    // Eligible, but the default settings require MFA, which this release refuses rather than skips.
    let activate = ["activate", "Reader", "--scope", "/prod/a", "--duration", "1h", "-j", "need it"];
    let err = bob.fails(&activate, "");
    assert!(err.ends_with("(mfa_required)\n"), "{err}");
    let err = bob.fails(&["audit", "list"], "");
    assert_eq!(err, "error: bob lacks the permission pim.audit.read at / (forbidden)\n");
    // bob's own audit needs no permission, and holds only his events (refusals and what was done to him).
    let mine = bob.json(&["audit", "mine"]);
    let bob_id = bob.json(&["whoami"])["principal"]["id"].as_str().expect("id").to_owned();
    assert!(!items(&mine).is_empty(), "{mine}");
    assert!(
        items(&mine).iter().all(|e| e["actorId"] == bob_id.as_str() || e["principalId"] == bob_id.as_str()),
        "{mine}"
    );
    // Reports: a CSV file for the administrator; refused for bob.
    cli.ok(&["reports", "access", "--under", "/prod", "--format", "csv", "--out", "access.csv"]);
    let csv = std::fs::read_to_string(cli.cwd.join("access.csv")).expect("access.csv was written");
    assert!(csv.starts_with("principalId,principalName,"), "{csv}");
    assert!(
        csv.lines().any(|l| l.contains(",bob,user,") && l.contains(",Reader,/prod/a,eligible,eligible,direct,")),
        "{csv}"
    );
    let table = cli.ok(&["reports", "activations"]);
    assert!(table.contains("total"), "{table}");
    let err = bob.fails(&["reports", "access", "--under", "/prod"], "");
    assert_eq!(err, "error: bob lacks the permission pim.reports.read at /prod (forbidden)\n");
    let err = bob.fails(&["users", "create", "carol"], "");
    assert!(err.ends_with("(forbidden)\n"), "{err}");
    let err = bob.fails(&["deactivate", "Reader"], "");
    assert_eq!(err, "error: you have no activation of this role\n");

    // Refused changes are audited too, also those refused for lack of authorization.
    let refused = cli.json(&["audit", "list", "--actor", "bob", "--outcome", "failure"]);
    let codes: BTreeSet<&str> = items(&refused).iter().filter_map(|e| e["errorCode"].as_str()).collect();
    assert!(codes.is_superset(&BTreeSet::from(["not_eligible", "mfa_required", "forbidden"])), "{refused}");

    // Usage errors exit with 2.
    for args in [
        &["assign", "bob", "Reader"][..],
        &["activate", "Reader", "--duration", "5x"],
        &["-o", "yaml", "whoami"],
        &["no-such-command"],
        &["check", "bob"],
    ] {
        let r = bob.raw(args, "");
        assert_eq!(r.code, Some(2), "pim {args:?}:\n{}{}", r.stdout, r.stderr);
        assert!(r.stderr.starts_with("error: "), "pim {args:?}: {}", r.stderr);
    }
    // An unreachable server.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let err = cli.fails(&["login", "--server", &dead, "--username", "admin", "--password-stdin"], "pw-123456\n");
    assert!(err.contains("request to the pim server failed"), "{err}");
}

// ---------------------------------------------------------------------------------------------------
// `pim serve --database URL`: PostgreSQL instead of the embedded SQLite.

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, String::new()), |(b, q)| (b, format!("?{q}")));
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let base = base[host_start..].find('/').map_or(base, |i| &base[..host_start + i]);
    format!("{base}/{name}{query}")
}

/// Runs one SQL statement on the PostgreSQL server at `url`.
fn pg_execute(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::{Connection, Executor};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(url).await?;
        c.execute(sql).await?;
        c.close().await
    })
}

/// A database made for one test, dropped after it.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Never panics: this also runs while a failed test unwinds.
        if let Err(e) = pg_execute(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}

#[test]
fn serve_on_postgresql() {
    let admin_url = match std::env::var("PIM_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true requires PIM_TEST_POSTGRES_URL");
            eprintln!("skipped: PIM_TEST_POSTGRES_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)");
            return;
        }
    };
    let name = format!("pim_cli_{}", uuid::Uuid::now_v7().simple());
    pg_execute(&admin_url, &format!("CREATE DATABASE {name}")).expect("create a database on PIM_TEST_POSTGRES_URL");
    let db = PgDatabase { admin_url: admin_url.clone(), name: name.clone() };
    let url = with_database(&admin_url, &name);

    let tmp = tempfile::tempdir().expect("tempdir");
    let cli = Cli::new(tmp.path());
    {
        // PIM_DATABASE_URL: the data directory gets no SQLite database.
        let server = Server::start(&cli.cwd, &["--listen", "127.0.0.1:0"], &[("PIM_DATABASE_URL", url.as_str())]);
        assert!(!cli.cwd.join("pim-data/pim.db").exists(), "PostgreSQL, not SQLite");
        assert_eq!(http(&server.addr, "GET", "/readyz", &[], "").0, 200);
        let secret = server.secret.clone().expect("a new database asks for setup");
        let setup = ["setup", "--server", &server.url, "--username", "admin", "--secret", &secret, "--password-stdin"];
        cli.ok_in(&setup, "admin-password-1\n");
        cli.ok(&["users", "create", "alice"]);
    }
    // --database: the same database, so no setup is asked and the account is there.
    let server = Server::start(&cli.cwd, &["--listen", "127.0.0.1:0", "--database", &url], &[]);
    assert_eq!(server.secret, None, "{:?}", server.stdout);
    cli.ok_in(&["login", "--server", &server.url, "--username", "admin", "--password-stdin"], "admin-password-1\n");
    assert_eq!(cli.json(&["users", "show", "alice"])["name"], "alice");
    drop(server);
    drop(db);
}

// ---------------------------------------------------------------------------------------------------
// Crash safety.

/// `pim serve` killed with SIGKILL in the middle of a stream of writes loses no acknowledged change
/// and no audit event, and its audit chain still verifies after the restart: a change is answered
/// only once it and its event are committed together. (A power loss, as opposed to a process
/// crash, is covered by SQLite's `synchronous=FULL`, which a test on one machine cannot pull the
/// plug on.)
#[test]
fn a_killed_server_loses_no_acknowledged_change() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cli = Cli::new(tmp.path());
    let boot = ["admin", "bootstrap", "--data-dir", "./data", "--username", "admin", "--password-stdin"];
    cli.ok_in(&boot, "admin-password-1\n");
    let login = r#"{"username": "admin", "password": "admin-password-1"}"#;
    let token_of = |addr: &str| -> String {
        let (status, body) = http(addr, "POST", "/api/v1/auth/login", &[("Content-Type", "application/json")], login);
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        v["token"].as_str().expect("token").to_owned()
    };
    let mut server = Server::start(&cli.cwd, &["--data-dir", "./data", "--listen", "127.0.0.1:0"], &[]);
    let token = token_of(&server.addr);
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (addr, token, acked, stop) = (server.addr.clone(), token.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let name = format!("g-{w}-{i}");
                    let body = format!(r#"{{"name": "{name}"}}"#);
                    let auth = format!("Bearer {token}");
                    let headers = [("Content-Type", "application/json"), ("Authorization", auth.as_str())];
                    // A write cut off by the kill has no answer: it may or may not have happened.
                    let Ok(status) = try_post(&addr, "/api/v1/groups", &headers, &body) else { break };
                    if status != 201 {
                        break;
                    }
                    acked.lock().expect("lock").push(name);
                }
            })
        })
        .collect();
    // Let writes flow, then kill the server without warning while they still do.
    let started = std::time::Instant::now();
    while acknowledged.lock().expect("lock").len() < 40 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.child.kill().expect("SIGKILL");
    let _ = server.child.wait();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        let _ = w.join();
    }
    let acked = acknowledged.lock().expect("lock").clone();
    assert!(acked.len() >= 40, "only {} writes were acknowledged before the kill", acked.len());
    drop(server);

    let server = Server::start(&cli.cwd, &["--data-dir", "./data", "--listen", "127.0.0.1:0"], &[]);
    let token = token_of(&server.addr);
    let auth = format!("Bearer {token}");
    let mut names = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/groups?limit=1000&cursor={c}"),
            None => "/api/v1/groups?limit=1000".to_owned(),
        };
        let (status, body) = http(&server.addr, "GET", &path, &[("Authorization", auth.as_str())], "");
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        names.extend(items(&v).iter().map(|g| g["name"].as_str().expect("name").to_owned()));
        match v["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let lost: Vec<_> = acked.iter().filter(|n| !names.contains(*n)).collect();
    assert!(lost.is_empty(), "acknowledged but lost after the crash: {lost:?}");
    let (status, body) = http(&server.addr, "POST", "/api/v1/audit/verify", &[("Authorization", auth.as_str())], "");
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(report["ok"], Value::Bool(true), "the chain survived the crash: {report}");
    let (_, body) = http(
        &server.addr,
        "GET",
        "/api/v1/audit/export?format=json&action=group.create&outcome=success",
        &[("Authorization", auth.as_str())],
        "",
    );
    let events: Value = serde_json::from_str(&body).expect("json");
    let created: std::collections::HashSet<_> =
        events.as_array().expect("events").iter().filter_map(|e| e["details"]["name"].as_str()).collect();
    let unaudited: Vec<_> = acked.iter().filter(|n| !created.contains(n.as_str())).collect();
    assert!(unaudited.is_empty(), "acknowledged without an audit event: {unaudited:?}");
}

/// A POST whose failure (the server is gone) is an error, not a panic: the status code.
fn try_post(addr: &str, path: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no status line"))
}

// ---------------------------------------------------------------------------------------------------
// MFA from the command line, and the secret key file.

/// A TOTP generator for a base32 secret (RFC 6238, SHA-1, 6 digits, 30 s).
fn totp(secret: &str) -> totp_rs::TOTP {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().expect("base32");
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).expect("totp")
}

/// The code of the time step `offset` steps from now (by the system clock, as the server's).
fn code_now(t: &totp_rs::TOTP, offset: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    t.generate(now.saturating_add_signed(offset * 30))
}

#[test]
fn mfa_from_the_command_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path").to_owned();
    let serve_args = ["--listen", "127.0.0.1:0", "--data-dir", data_arg.as_str()];
    let server = Server::start(tmp.path(), &serve_args, &[]);
    // The secret key is made on first start: 32 bytes, readable by the owner only.
    let key_path = data.join("secret.key");
    let key = std::fs::read(&key_path).expect("the key file");
    assert_eq!(key.len(), 32);
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_path).expect("meta").permissions().mode() & 0o777, 0o600);
    }
    let secret = server.secret.clone().expect("setup secret");
    let url = server.url.clone();
    let admin = Cli::new(tmp.path());
    admin.ok_in(
        &["setup", "--server", &url, "--username", "admin", "--secret", &secret, "--password-stdin"],
        "admin-password-1\n",
    );
    assert_eq!(field(&admin.ok(&["mfa", "status"]), "enrolled"), Some("no"));

    // Enroll in two steps (scriptable): the secret in JSON, then the first code.
    let e = admin.json(&["mfa", "enroll", "--no-confirm"]);
    let uri = e["otpauthUri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/pim:admin?secret="), "{uri}");
    let t = totp(e["secret"].as_str().expect("secret"));
    let out = admin.ok(&["mfa", "confirm", &code_now(&t, 0)]);
    assert!(out.contains("Your authenticator is confirmed") && out.contains("Recovery codes"), "{out}");
    let codes: Vec<&str> = out.lines().map(str::trim).filter(|l| l.len() == 11 && l.as_bytes()[5] == b'-').collect();
    assert_eq!(codes.len(), 10, "{out}");
    let status = admin.ok(&["mfa", "status"]);
    assert_eq!(field(&status, "enrolled"), Some("yes"), "{status}");
    assert_eq!(field(&status, "recovery codes"), Some("10"), "{status}");
    assert!(field(&status, "session").is_some_and(|s| s.starts_with("fresh until")), "{status}");

    // Verify: with --otp, a recovery code, a wrong code, and no code without a terminal.
    let next = code_now(&t, 1);
    let out = admin.ok(&["mfa", "verify", "--otp", &next]);
    assert!(out.starts_with("MFA passed; this session is fresh until "), "{out}");
    let err = admin.fails(&["mfa", "verify", "--otp", &next], "");
    assert!(err.ends_with("(mfa_code_reused)\n"), "{err}");
    let err = admin.fails(&["mfa", "verify", "--otp", "12345"], "");
    assert!(err.ends_with("(invalid_input)\n") && err.contains("6 digits"), "{err}");
    let err = admin.fails(&["mfa", "verify"], "");
    assert!(err.contains("pass --otp CODE or --recovery-code CODE"), "{err}");
    let out = admin.ok(&["mfa", "verify", "--recovery-code", codes[0]]);
    assert!(out.contains("9 recovery codes left"), "{out}");
    let fresh = admin.json(&["mfa", "recovery-codes"]);
    assert_eq!(fresh["recoveryCodes"].as_array().expect("codes").len(), 10);

    // A user enrolls interactively: the QR code and the URI, then the code typed in.
    admin.ok_in(&["users", "create", "bob", "--password-stdin"], "bob-password-1\n");
    let bob = Cli { config_dir: tmp.path().join("bob-config"), cwd: admin.cwd.clone(), env: Vec::new() };
    bob.ok_in(&["login", "--server", &url, "--username", "bob", "--password-stdin"], "bob-password-1\n");
    let mut cmd = std::process::Command::new(pim_bin());
    for v in PIM_VARS {
        cmd.env_remove(v);
    }
    cmd.env("PIM_CONFIG_DIR", &bob.config_dir).current_dir(&bob.cwd).args(["mfa", "enroll"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("pim mfa enroll");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut shown = String::new();
    let bob_secret = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).expect("read") > 0, "pim mfa enroll printed no secret:\n{shown}");
        shown.push_str(&line);
        if let Some(s) = line.strip_prefix("secret:") {
            break s.trim().to_owned();
        }
    };
    assert!(shown.contains('█') || shown.contains('▀') || shown.contains('▄'), "a QR code drawn:\n{shown}");
    assert!(shown.contains("uri:") && shown.contains("otpauth://totp/pim:bob?secret="), "{shown}");
    let bt = totp(&bob_secret);
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{}", code_now(&bt, 0)).expect("type the code");
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("the rest of the output");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{rest}{}", String::from_utf8_lossy(&out.stderr));
    assert!(rest.contains("Your authenticator is confirmed"), "{rest}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Code from your authenticator app: "));

    // Sign-in with a code; then an administrator resets bob's MFA.
    let next = code_now(&bt, 1);
    let out = bob.ok_in(
        &["login", "--server", &url, "--username", "bob", "--otp", &next, "--password-stdin"],
        "bob-password-1\n",
    );
    assert!(out.contains("MFA passed"), "{out}");
    let err = bob.fails(&["login", "--username", "bob", "--otp", &next, "--password-stdin"], "bob-password-1\n");
    assert!(err.ends_with("(mfa_code_reused)\n"), "{err}");
    let err = bob.fails(&["mfa", "reset", "admin"], "");
    assert!(err.ends_with("(forbidden)\n"), "{err}");
    let out = admin.ok(&["mfa", "reset", "bob"]);
    assert_eq!(out, "Removed the MFA of bob: they must enroll again with pim mfa enroll.\n");
    assert_eq!(field(&bob.ok(&["mfa", "status"]), "enrolled"), Some("no"));
    drop(server);

    // The key file: refused when others may read it, or when it is not the key the data was sealed with.
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve"];
        args.extend_from_slice(&serve_args);
        args.extend_from_slice(extra);
        admin.raw(&args, "")
    };
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let r = serve(&[]);
        assert_eq!(r.code, Some(1));
        assert!(r.stderr.contains("may be read by others") && r.stderr.contains("chmod 600"), "{}", r.stderr);
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let other = tmp.path().join("other.key");
    std::fs::write(&other, [7u8; 32]).expect("write");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let r = serve(&["--secret-key-file", other.to_str().expect("path")]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("is not the one this database's MFA secrets were sealed with"), "{}", r.stderr);
    let missing = tmp.path().join("missing.key");
    let r = serve(&["--secret-key-file", missing.to_str().expect("path")]);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    assert!(!missing.exists(), "a configured key is never made up");
    // The right key, given by the environment, starts the server, and the recovery codes still work.
    let server = Server::start(tmp.path(), &serve_args, &[("PIM_SECRET_KEY_FILE", key_path.to_str().expect("path"))]);
    let admin = Cli { env: vec![("PIM_SERVER".into(), server.url.clone())], ..admin };
    admin.ok_in(&["login", "--username", "admin", "--password-stdin"], "admin-password-1\n");
    let code = fresh["recoveryCodes"][3].as_str().expect("a code");
    let out = admin.ok(&["mfa", "verify", "--recovery-code", code]);
    assert!(out.contains("9 recovery codes left"), "{out}");
}

// ---------------------------------------------------------------------------------------------------
// Notifications: `[smtp]` from pim.toml and PIM_SMTP_URL, the server's own worker, `pim notifications`.

#[test]
fn notifications_are_configured_delivered_and_listed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // A real SMTP server when PIM_TEST_PYTHON names a Python with aiosmtpd (required when CI=true).
    let python = std::env::var("PIM_TEST_PYTHON").ok().filter(|p| !p.is_empty());
    assert!(
        python.is_some() || std::env::var("CI").as_deref() != Ok("true"),
        "PIM_TEST_PYTHON is not set, and CI=true requires the SMTP tests to run"
    );
    if python.is_none() {
        eprintln!("without SMTP: PIM_TEST_PYTHON is not set (a Python 3 with aiosmtpd, e.g. python3)");
    }
    let mail_log = dir.join("mail.jsonl");
    let mut sink = python.as_ref().map(|py| {
        std::process::Command::new(py)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py"))
            .arg(&mail_log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SMTP sink")
    });
    let sink_port = sink.as_mut().map(|c| {
        let mut line = String::new();
        BufReader::new(c.stdout.take().expect("stdout")).read_line(&mut line).expect("port");
        line.trim().to_owned()
    });

    // A broken [smtp] stops the server with a clear message.
    std::fs::write(dir.join("pim.toml"), "[smtp]\nhost = \"mail.example.com\"\n").expect("pim.toml");
    let cli = Cli::new(dir);
    let in_dir = Cli { config_dir: cli.config_dir.clone(), cwd: dir.to_path_buf(), env: Vec::new() };
    let r = in_dir.raw(&["serve", "--listen", "127.0.0.1:0", "--data-dir", "data"], "");
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("From"), "{}", r.stderr);

    // The From address from pim.toml, the server from the environment.
    let toml = "job_interval_secs = 1\n[smtp]\nfrom = \"pim <pim@example.com>\"\n";
    let env_url = sink_port.as_ref().map(|p| format!("smtp://127.0.0.1:{p}"));
    let env: Vec<(&str, &str)> = env_url.iter().map(|u| ("PIM_SMTP_URL", u.as_str())).collect();
    if env.is_empty() {
        std::fs::write(dir.join("pim.toml"), "job_interval_secs = 1\n").expect("pim.toml");
    } else {
        std::fs::write(dir.join("pim.toml"), toml).expect("pim.toml");
    }
    let server = Server::start(dir, &["--listen", "127.0.0.1:0", "--data-dir", "data"], &env);
    let secret = server.secret.clone().expect("a setup secret");
    let setup = ["--server", &server.url, "setup", "--username", "root", "--secret", &secret, "--password-stdin"];
    cli.ok_in(&setup, "root-password-1\n");
    cli.ok(&["users", "create", "alice", "--email", "alice@example.com"]);
    cli.ok(&["assign", "alice", "Reader", "--scope", "/prod", "--eligible", "-j", "on call"]);

    let listed = cli.json(&["notifications", "--event", "assignment.eligible"]);
    let rows = items(&listed);
    assert_eq!(rows.len(), 1, "root has no address; alice has: {listed}");
    assert_eq!(
        (rows[0]["channel"].as_str(), rows[0]["recipient"].as_str()),
        (Some("email"), Some("alice@example.com"))
    );
    assert_eq!(rows[0]["subject"], "PIM: alice was made eligible for Reader at /prod");
    match &sink_port {
        Some(_) => {
            // The server's worker delivers it within a few job intervals.
            let mut delivered = Value::Null;
            for _ in 0..100 {
                delivered = cli.json(&["notifications", "--status", "delivered"]);
                if !items(&delivered).is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            assert_eq!(items(&delivered).len(), 1, "{delivered}");
            let text = std::fs::read_to_string(&mail_log).expect("the sink got mail");
            let mail: Value = serde_json::from_str(text.lines().next().expect("a line")).expect("JSON");
            assert_eq!(mail["subject"], "PIM: alice was made eligible for Reader at /prod");
            assert_eq!(mail["rcptTos"], serde_json::json!(["alice@example.com"]));
            let out = cli.ok(&["notifications", "--status", "delivered"]);
            assert!(out.contains("assignment.eligible") && out.contains("alice@example.com"), "{out}");
        }
        None => {
            // Without SMTP the email waits, listed as pending.
            let out = cli.ok(&["notifications", "--status", "pending"]);
            assert!(out.starts_with("CREATED"), "{out}");
            assert!(
                out.contains("assignment.eligible") && out.contains("alice@example.com") && out.contains("pending")
            );
        }
    }
    let r = cli.raw(&["notifications", "--status", "sent"], "");
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    drop(server);
    if let Some(mut c) = sink {
        let _ = c.kill();
        let _ = c.wait();
    }
}

#[test]
fn alerts_from_the_command_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("pim.toml"), "alert_interval_mins = 5\n").expect("pim.toml");
    let cli = Cli::new(dir);
    let server = Server::start(dir, &["--listen", "127.0.0.1:0", "--data-dir", "data"], &[]);
    let secret = server.secret.clone().expect("a setup secret");
    let setup = ["--server", &server.url, "setup", "--username", "root", "--secret", &secret, "--password-stdin"];
    cli.ok_in(&setup, "root-password-1\n");

    // The rules with their defaults; a threshold changed.
    let rules = cli.ok(&["alerts", "rules"]);
    assert!(rules.starts_with("RULE") && rules.contains("frequentActivations") && rules.contains("activations=3"));
    let changed = cli.json(&["alerts", "rules", "set", "tooManyGlobalAdmins", "-t", "count=1", "--severity", "high"]);
    assert_eq!((changed["thresholds"]["count"].as_i64(), changed["severity"].as_str()), (Some(1), Some("high")));
    let err = cli.fails(&["alerts", "rules", "set", "tooManyGlobalAdmins", "-t", "percent=200"], "");
    assert!(err.contains("percent") && err.contains("invalid_input"), "{err}");

    // Evaluate: root is the one Global Administrator, which is now too many.
    let active = cli.json(&["alerts", "evaluate"]);
    let alert = items(&active).iter().find(|a| a["ruleId"] == "tooManyGlobalAdmins").expect("raised").clone();
    let id = alert["id"].as_str().expect("id");
    let listed = cli.ok(&["alerts", "list"]);
    assert!(listed.starts_with("ID") && listed.contains(id), "{listed}");
    let shown = cli.ok(&["alerts", "show", id]);
    assert!(shown.contains("tooManyGlobalAdmins") && shown.contains("PRINCIPAL"), "{shown}");

    // Not remediable; dismissed with a reason; then neither again.
    let err = cli.fails(&["alerts", "remediate", id], "");
    assert!(err.contains("no automatic fix"), "{err}");
    let dismissed = cli.json(&["alerts", "dismiss", id, "-r", "a lab"]);
    assert_eq!((dismissed["state"].as_str(), dismissed["dismissReason"].as_str()), (Some("dismissed"), Some("a lab")));
    assert_eq!(items(&cli.json(&["alerts", "list", "--state", "dismissed"])).len(), 1);
    let err = cli.fails(&["alerts", "dismiss", id, "-r", "again"], "");
    assert!(err.contains("alert_not_active"), "{err}");

    // Disabled: resolved at the next evaluation.
    cli.ok(&["alerts", "rules", "set", "tooManyGlobalAdmins", "--disable"]);
    cli.ok(&["alerts", "evaluate"]);
    let resolved = cli.json(&["alerts", "list", "--state", "resolved"]);
    assert!(items(&resolved).iter().any(|a| a["id"] == id), "{resolved}");
    assert_eq!(cli.raw(&["alerts", "list", "--state", "open"], "").code, Some(1));
    drop(server);
}

#[test]
fn policy_export_plan_apply_from_the_command_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let cli = Cli::new(dir);
    let server = Server::start(dir, &["--listen", "127.0.0.1:0", "--data-dir", "data"], &[]);
    let secret = server.secret.clone().expect("a setup secret");
    let setup = ["--server", &server.url, "setup", "--username", "root", "--secret", &secret, "--password-stdin"];
    cli.ok_in(&setup, "root-password-1\n");

    // Exported, the file matches the server: exit 0.
    cli.ok(&["export", "--out", "policy.toml"]);
    let exported = std::fs::read_to_string(dir.join("work/policy.toml")).expect("policy.toml");
    assert!(
        exported.contains("principal = \"root\"") && exported.contains("role = \"Global Administrator\""),
        "{exported}"
    );
    assert_eq!(cli.ok(&["export"]), exported, "export to stdout and to a file differ");
    let same = cli.raw(&["plan", "-f", "policy.toml"], "");
    assert_eq!(same.code, Some(0), "{}{}", same.stdout, same.stderr);
    assert!(same.stdout.contains("No changes"), "{}", same.stdout);

    // An edit: exit 2, naming the change; apply makes it; then 0 again.
    let edited = format!("{exported}\n[[roles]]\nname = \"DB Operator\"\nactions = [\"db.*\"]\n");
    std::fs::write(dir.join("work/policy.toml"), &edited).expect("write");
    let differs = cli.raw(&["plan", "-f", "policy.toml"], "");
    assert_eq!(differs.code, Some(2), "{}{}", differs.stdout, differs.stderr);
    assert!(differs.stdout.contains("+ create role DB Operator"), "{}", differs.stdout);
    assert_eq!(differs.stderr, "", "a difference is not an error");
    let json = cli.raw(&["-o", "json", "plan", "-f", "-"], &edited);
    assert_eq!(json.code, Some(2));
    let report: Value = serde_json::from_str(&json.stdout).expect("json plan");
    assert_eq!((report["differs"].as_bool(), report["changes"].as_array().map(Vec::len)), (Some(true), Some(1)));
    let applied = cli.ok(&["apply", "-f", "policy.toml", "-j", "CHG-1"]);
    assert!(applied.contains("Applied 1"), "{applied}");
    assert_eq!(cli.raw(&["plan", "-f", "policy.toml"], "").code, Some(0));

    // A file with an error: exit 1, with the file, line and field.
    let bad = exported.replace("role = \"Global Administrator\"", "role = \"Global Admin\"");
    std::fs::write(dir.join("work/bad.toml"), &bad).expect("write");
    let line = bad.lines().position(|l| l == "role = \"Global Admin\"").expect("the edited line") + 1;
    let err = cli.fails(&["plan", "-f", "bad.toml"], "");
    assert!(
        err.contains(&format!("bad.toml: line {line}, field assignments[0].role: no role is named 'Global Admin'"))
            && err.contains("invalid_policy"),
        "{err}"
    );
    let err = cli.fails(&["apply", "-f", "bad.toml"], "");
    assert!(err.contains(&format!("line {line}, field assignments[0].role")), "{err}");
    cli.fails(&["plan", "-f", "missing.toml"], "");
    drop(server);
}

/// The header of an instance's results as CSV (`RESULTS_CSV_COLUMNS` in the server's handlers).
const REVIEW_CSV_HEADER: &str = "itemId,principalId,principalName,roleId,roleName,scope,kind,assignmentId,lastActivity,lastUse,\
recommendation,decision,reason,reviewedBy,reviewedByName,reviewedAt,outcome,applied,appliedMessage,appliedRequestId,reviewers";

/// The CSV row (as name -> value) of `principal` in `csv` (no value holds a comma here).
fn csv_row(csv: &str, principal: &str) -> std::collections::BTreeMap<String, String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let row = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|cells| cells.get(2) == Some(&principal))
        .unwrap_or_else(|| panic!("no row of {principal} in:\n{csv}"));
    assert_eq!(row.len(), header.len(), "{csv}");
    header.iter().zip(row).map(|(h, v)| ((*h).to_owned(), v.to_owned())).collect()
}

#[test]
fn access_reviews_from_the_command_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let root = Cli::new(dir);
    let server = Server::start(dir, &["--listen", "127.0.0.1:0", "--data-dir", "data"], &[]);
    let url = server.url.clone();
    let secret = server.secret.clone().expect("a setup secret");
    let setup = ["--server", &url, "setup", "--username", "root", "--secret", &secret, "--password-stdin"];
    root.ok_in(&setup, "root-password-1\n");
    let help = root.ok(&["reviews", "--help"]);
    assert!(help.contains("stop-instance") && help.contains("decide") && help.contains("docs/REVIEWS.md"), "{help}");

    // alice reviews through the auditors group; bob and carol hold Reader under /prod; mallory is
    // nobody's reviewer.
    root.ok_in(&["users", "create", "alice", "--password-stdin"], "alice-password-1\n");
    root.ok_in(&["users", "create", "mallory", "--password-stdin"], "mallory-password-1\n");
    root.ok(&["users", "create", "bob"]);
    root.ok(&["users", "create", "carol"]);
    root.ok(&["groups", "create", "auditors"]);
    root.ok(&["groups", "add-member", "auditors", "alice"]);
    let bob_assignment = root.json(&["assign", "bob", "Reader", "--scope", "/prod", "--eligible", "-j", "on call"]);
    let bob_assignment = bob_assignment["assignment"]["id"].as_str().expect("bob's assignment").to_owned();
    root.ok(&["assign", "carol", "Reader", "--scope", "/prod/db", "--active", "-j", "dba"]);
    root.ok(&["assign", "carol", "Reader", "--scope", "/staging", "--active", "-j", "not under /prod"]);

    // A one-time review of Reader at /prod by the auditors: its instance starts at once.
    let created = root.ok(&[
        "reviews",
        "create",
        "prod readers",
        "--role",
        "Reader",
        "--scope",
        "/prod",
        "--reviewer",
        "auditors",
        "--duration-days",
        "7",
        "--description",
        "quarterly check",
    ]);
    assert_eq!(field(&created, "target"), Some("Reader at /prod"), "{created}");
    assert_eq!(field(&created, "reviewers"), Some("auditors (group)"), "{created}");
    assert_eq!(field(&created, "reason required"), Some("yes"), "{created}");
    assert!(created.contains("INSTANCE") && created.contains("InProgress"), "{created}");
    let listed = root.json(&["reviews", "list"]);
    assert_eq!(items(&listed).len(), 1, "{listed}");
    let review = &items(&listed)[0];
    let review_id = review["id"].as_str().expect("id").to_owned();
    assert_eq!(review["reviewers"]["type"], "selected");
    assert_eq!(review["reviewers"]["reviewers"][0]["kind"], "group");
    assert_eq!(review["schedule"]["recurrence"], "oneTime");
    let detail = root.json(&["reviews", "show", &review_id]);
    let instance = detail["instances"][0]["id"].as_str().expect("an instance").to_owned();
    assert_eq!(detail["instances"][0]["status"], "InProgress");
    assert_eq!(detail["instances"][0]["counts"]["total"], 2, "bob's and carol's under /prod: {detail}");

    // alice sees her items.
    let alice = Cli { config_dir: dir.join("alice-config"), cwd: root.cwd.clone(), env: Vec::new() };
    alice.ok_in(&["login", "--server", &url, "--username", "alice", "--password-stdin"], "alice-password-1\n");
    let mine = alice.ok(&["reviews", "mine"]);
    assert!(mine.starts_with("INSTANCE") && mine.contains("RECOMMENDATION"), "{mine}");
    let row = |who: &str| mine.lines().find(|l| l.contains(&format!(" {who} "))).unwrap_or("").to_owned();
    for (who, scope, kind) in [("bob", "/prod", "eligible"), ("carol", "/prod/db", "active")] {
        let r = row(who);
        assert!(
            r.contains(&instance) && r.contains("prod readers") && r.contains(scope) && r.contains(kind),
            "{who}: {mine}"
        );
        // ... LAST ACTIVITY, LAST USE, RECOMMENDATION, DECISION.
        let tail: Vec<&str> = r.split_whitespace().rev().take(6).collect();
        assert_eq!(tail, ["reviewed", "not", "deny", "reported", "none", "never"], "{who}: {mine}");
    }
    let mine = alice.json(&["reviews", "mine"]);
    let item_of = |who: &str| {
        items(&mine)[0]["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["principalName"] == who)
            .and_then(|i| i["id"].as_str())
            .unwrap_or_else(|| panic!("no item of {who}: {mine}"))
            .to_owned()
    };
    let (bob_item, carol_item) = (item_of("bob"), item_of("carol"));

    // Refusals: not a reviewer; no reason; nothing applied before the end.
    let mallory = Cli { config_dir: dir.join("mallory-config"), cwd: root.cwd.clone(), env: Vec::new() };
    mallory.ok_in(&["login", "--server", &url, "--username", "mallory", "--password-stdin"], "mallory-password-1\n");
    assert!(mallory.ok(&["reviews", "mine"]).ends_with("(none)\n"));
    let err = mallory.fails(&["reviews", "decide", &instance, &bob_item, "--approve", "-r", "looks fine"], "");
    assert!(err.starts_with("error: you are not a reviewer of item") && err.ends_with("(not_reviewer)\n"), "{err}");
    let err = mallory.fails(&["reviews", "results", &instance], "");
    assert!(err.ends_with("(forbidden)\n"), "{err}");
    let err = alice.fails(&["reviews", "decide", &instance, &bob_item, "--deny"], "");
    assert_eq!(err, "error: this review requires a reason with each decision (reason_required)\n");
    let err = root.fails(&["reviews", "apply", &instance], "");
    assert!(err.ends_with("(review_not_completed)\n"), "{err}");

    // alice denies bob's access, then approves every other undecided item: carol's.
    let out = alice.ok(&["reviews", "decide", &instance, &bob_item, "--deny", "-r", "left the team"]);
    assert!(out.contains(&bob_item) && out.lines().nth(1).is_some_and(|l| l.ends_with(" deny")), "{out}");
    let decided = alice.json(&["reviews", "decide", &instance, "--approve", "--reason", "still a DBA"]);
    assert_eq!(items(&decided).len(), 1, "only carol's was undecided: {decided}");
    assert_eq!(items(&decided)[0]["id"], carol_item.as_str());
    assert_eq!(items(&decided)[0]["decision"]["verdict"], "approve");
    let shown = root.ok(&["reviews", "instance", &instance]);
    assert_eq!(field(&shown, "items"), Some("2 (1 approved, 1 denied, 0 not reviewed)"), "{shown}");

    // Stopped early: outcomes computed; reviewers can no longer decide.
    let stopped = root.ok(&["reviews", "stop-instance", &instance]);
    assert_eq!(field(&stopped, "status"), Some("Completed"), "{stopped}");
    assert_eq!(field(&stopped, "to remove"), Some("1"), "{stopped}");
    let err = alice.fails(&["reviews", "decide", &instance, &carol_item, "--deny", "-r", "changed my mind"], "");
    assert!(err.ends_with("(review_not_in_progress)\n"), "{err}");

    // The results as a table and as CSV (to standard output and to a file).
    let results = root.ok(&["reviews", "results", &instance]);
    assert!(results.contains("ITEM") && results.contains("OUTCOME"), "{results}");
    let bob_line = results.lines().find(|l| l.contains(&bob_item)).expect("bob's row");
    for want in ["bob", "Reader", "/prod", "eligible", "deny", "alice", "left the team", "remove"] {
        assert!(bob_line.contains(want), "{want} in {bob_line}");
    }
    let carol_line = results.lines().find(|l| l.contains(&carol_item)).expect("carol's row");
    assert!(carol_line.contains("approve") && carol_line.contains("still a DBA") && carol_line.contains("keep"));
    let csv = root.ok(&["reviews", "results", &instance, "--format", "csv"]);
    assert_eq!(csv.lines().next(), Some(REVIEW_CSV_HEADER), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let bob_row = csv_row(&csv, "bob");
    assert_eq!(bob_row["itemId"], bob_item);
    assert_eq!(bob_row["assignmentId"], bob_assignment);
    assert_eq!(bob_row["roleName"], "Reader");
    assert_eq!(bob_row["scope"], "/prod");
    assert_eq!(bob_row["kind"], "eligible");
    assert_eq!(bob_row["lastActivity"], "", "bob never signed in");
    assert_eq!(bob_row["recommendation"], "deny");
    assert_eq!(bob_row["decision"], "deny");
    assert_eq!(bob_row["reason"], "left the team");
    assert_eq!(bob_row["reviewedByName"], "alice");
    assert_eq!(bob_row["outcome"], "remove");
    assert_eq!((bob_row["applied"].as_str(), bob_row["appliedRequestId"].as_str()), ("", ""));
    assert_eq!(bob_row["reviewers"], "auditors");
    root.ok(&["reviews", "results", &instance, "--format", "csv", "--out", "results.csv"]);
    let file = std::fs::read_to_string(root.cwd.join("results.csv")).expect("results.csv");
    assert_eq!(file.trim_end(), csv.trim_end());

    // Applied: bob's eligibility is removed through an adminRemove request; carol keeps hers.
    let applied = root.ok(&["reviews", "apply", &instance]);
    assert_eq!(field(&applied, "status"), Some("Applied"), "{applied}");
    assert_eq!(field(&applied, "removed"), Some("1"), "{applied}");
    let bob_line = applied.lines().find(|l| l.contains(&bob_item)).unwrap_or_else(|| panic!("{applied}"));
    assert!(bob_line.split_whitespace().rev().take(2).eq(["removed", "remove"]), "{applied}");
    let bob_now = root.json(&["assignments", "list", "--principal", "bob"]);
    assert!(items(&bob_now).is_empty(), "bob's eligibility is gone: {bob_now}");
    let bob_all = root.json(&["assignments", "list", "--principal", "bob", "--all"]);
    assert_eq!(items(&bob_all)[0]["id"], bob_assignment.as_str());
    assert!(items(&bob_all)[0]["endedEarlyAt"].is_string(), "{bob_all}");
    let carol_now = root.ok(&["assignments", "list", "--principal", "carol"]);
    assert!(carol_now.contains("/prod/db") && carol_now.contains("/staging"), "{carol_now}");
    let csv = root.ok(&["reviews", "results", &instance, "--format", "csv"]);
    let bob_row = csv_row(&csv, "bob");
    assert_eq!(bob_row["applied"], "removed");
    let removals = root.json(&["audit", "list", "--action", "request.adminRemove"]);
    assert_eq!(items(&removals).len(), 1, "{removals}");
    let removal = &items(&removals)[0];
    assert_eq!(removal["requestId"], bob_row["appliedRequestId"].as_str());
    assert_eq!(removal["details"]["review"]["instanceId"], instance.as_str());
    assert_eq!(removal["details"]["review"]["itemId"], bob_item.as_str());
    assert_eq!(
        removal["justification"],
        "access review prod readers (occurrence 1): denied by the reviewer: left the team"
    );
    let err = root.fails(&["reviews", "apply", &instance], "");
    assert!(err.contains("is Applied") && err.ends_with("(review_not_completed)\n"), "{err}");

    // Edited for its future instances: a new name and reviewers by name; an empty edit says so.
    let err = root.fails(&["reviews", "update", &review_id], "");
    assert!(err.contains("nothing to change"), "{err}");
    let edited = root.json(&["reviews", "update", &review_id, "--name", "prod readers (H2)", "--reviewer", "carol"]);
    assert_eq!(edited["name"], "prod readers (H2)", "{edited}");
    assert_eq!(
        edited["reviewers"]["reviewers"][0]["id"],
        items(&root.json(&["users", "list"])).iter().find(|u| u["name"] == "carol").expect("carol")["id"],
        "{edited}"
    );
    let err = root.fails(&["reviews", "update", &review_id, "--recurrence", "monthly"], "");
    assert!(err.contains("schedule.recurrence cannot change once an instance"), "{err}");

    // The definition stopped: once.
    let stopped = root.ok(&["reviews", "stop", &review_id]);
    assert!(field(&stopped, "stopped").is_some(), "{stopped}");
    assert!(items(&root.json(&["reviews", "list"]))[0]["stoppedAt"].is_string());
    let listed = root.ok(&["reviews", "list"]);
    let line = listed.lines().find(|l| l.starts_with(&review_id)).unwrap_or_else(|| panic!("{listed}"));
    assert!(listed.starts_with("ID") && !line.ends_with(" no"), "{listed}");
    let err = root.fails(&["reviews", "stop", &review_id], "");
    assert!(err.ends_with("is already stopped (review_not_in_progress)\n"), "{err}");
    let err = root.fails(&["reviews", "update", &review_id, "--duration-days", "3"], "");
    assert!(err.ends_with("(review_not_in_progress)\n") && err.contains("is stopped"), "{err}");
    drop(server);
}

/// docs/REVIEWS.md's walkthrough (its ```` ```sh reviews ```` blocks), run verbatim after `pim setup`
/// as admin; `$REVIEW`, `$INSTANCE` and `$BOB_ITEM` hold the ids the walkthrough tells the reader
/// to copy from the output, set once the review exists.
#[test]
fn reviews_walkthrough_runs_verbatim() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/REVIEWS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let steps = blocks(&text, "reviews");
    assert!(steps.len() >= 20, "the walkthrough has only {} lines", steps.len());
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(tmp.path(), &["--listen", "127.0.0.1:0", "--data-dir", "data"], &[]);
    let secret = server.secret.clone().expect("a setup secret");
    let mut cli = Cli::new(tmp.path()).with_env("SERVER", &server.url).with_env("SECRET", &secret);
    let setup = ["setup", "--server", &server.url, "--username", "admin", "--secret", &secret, "--password-stdin"];
    cli.ok_in(&setup, "admin-password-1\n");
    let mut seen = BTreeSet::new();
    let mut quarterly = String::new();
    for line in &steps {
        let out = cli.sh(line);
        let words: Vec<&str> = line.split(" | ").last().unwrap_or(line).split_whitespace().collect();
        let has = |s: &str| assert!(out.contains(s), "`{line}` should print {s:?}:\n{out}");
        match words.get(1..).unwrap_or_default() {
            ["reviews", "create", "\"prod", ..] => {
                has("InProgress");
                let review = items(&cli.json(&["reviews", "list"]))[0]["id"].as_str().expect("id").to_owned();
                let detail = cli.json(&["reviews", "show", &review]);
                let instance = detail["instances"][0]["id"].as_str().expect("instance").to_owned();
                let results = cli.json(&["reviews", "results", &instance]);
                let bob = items(&results).iter().find(|i| i["principalName"] == "bob").expect("bob's item");
                let bob = bob["id"].as_str().expect("id").to_owned();
                cli = cli.with_env("REVIEW", &review).with_env("INSTANCE", &instance).with_env("BOB_ITEM", &bob);
            }
            ["reviews", "mine"] => {
                has("bob");
                has("carol");
                has("not reviewed");
            }
            ["reviews", "decide", ..] => has("ITEM"),
            ["reviews", "stop-instance", ..] => assert_eq!(field(&out, "status"), Some("Completed"), "{out}"),
            ["reviews", "results", _, "--format", "csv", ..] => {
                let csv = std::fs::read_to_string(cli.cwd.join("results.csv")).expect("results.csv");
                assert!(csv.starts_with(REVIEW_CSV_HEADER), "{csv}");
                assert_eq!(csv.lines().count(), 3, "{csv}");
            }
            ["reviews", "results", ..] => has("left the on-call rotation"),
            ["reviews", "apply", ..] => {
                assert_eq!(field(&out, "status"), Some("Applied"), "{out}");
                assert_eq!(field(&out, "removed"), Some("1"), "{out}");
            }
            ["assignments", "list", "--principal", "bob", ..] => has("removed"),
            ["reviews", "create", "\"auditors", ..] => {
                let list = cli.json(&["reviews", "list"]);
                let q = items(&list).iter().find(|r| r["name"] == "auditors membership").expect("the quarterly review");
                quarterly = q["id"].as_str().expect("id").to_owned();
                cli = cli.with_env("QUARTERLY", &quarterly);
            }
            ["reviews", "update", ..] => {
                let detail = cli.json(&["reviews", "show", &quarterly]);
                let schedule = &detail["review"]["schedule"];
                assert_eq!((schedule["durationDays"].as_u64(), schedule["end"]["count"].as_u64()), (Some(21), Some(6)));
                assert_eq!(detail["instances"][0]["status"], "InProgress", "{detail}");
                assert_eq!(schedule["recurrence"], "quarterly", "{detail}");
                has("21");
            }
            ["reviews", "stop", ..] => {
                assert!(field(&out, "stopped").is_some(), "{out}");
                // Stopped: its instance completed and was applied at once, keeping alice (active today).
                let detail = cli.json(&["reviews", "show", &quarterly]);
                assert_eq!(detail["instances"][0]["status"], "Applied", "{detail}");
                assert_eq!(detail["instances"][0]["counts"]["removed"], 0, "{detail}");
                let members = cli.json(&["groups", "members", "auditors"]);
                assert_eq!(items(&members).len(), 1, "{members}");
            }
            _ => {}
        }
        if let ["reviews", sub, ..] = words.get(1..).unwrap_or_default() {
            seen.insert((*sub).to_owned());
        }
    }
    let every =
        ["create", "list", "show", "mine", "decide", "instance", "stop-instance", "results", "apply", "update", "stop"];
    for sub in every {
        assert!(seen.contains(sub), "the walkthrough never runs pim reviews {sub}: {seen:?}");
    }
    assert!(items(&cli.json(&["assignments", "list", "--principal", "bob"])).is_empty(), "bob's access is removed");
    drop(server);
}

// ---------------------------------------------------------------------------------------------------
// The portal in a real browser (crates/pim/tests/portal/): Playwright drives Debian's headless
// Chromium through the end-to-end flow, and axe-core checks every page.

/// Why the browser test cannot run here, if it cannot: node, Chromium or the npm packages missing.
fn browser_test_missing(portal_dir: &Path, oidc_dir: &Path, chromium: &Path) -> Option<String> {
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("node is not installed (Debian: apt-get install nodejs npm)".into());
    }
    if !chromium.exists() {
        return Some(format!(
            "{} does not exist (Debian: apt-get install chromium; or set PIM_TEST_CHROMIUM)",
            chromium.display()
        ));
    }
    for package in ["playwright-core/package.json", "axe-core/axe.min.js"] {
        if !portal_dir.join("node_modules").join(package).exists() {
            return Some(format!("{} is missing: run npm ci --prefix {}", package, portal_dir.display()));
        }
    }
    if !oidc_dir.join("node_modules/oidc-provider/package.json").exists() {
        return Some(format!("oidc-provider is missing: run npm ci --prefix {}", oidc_dir.display()));
    }
    None
}

/// The OpenID Connect provider of the browser test (`tests/oidc/provider.mjs`, node's
/// `oidc-provider`): its issuer and the address of its test hook; ended when dropped.
struct BrowserIdp {
    issuer: String,
    listen: String,
    child: Child,
}

impl BrowserIdp {
    /// Starts the provider; its portal client's redirect URI is `redirect`.
    fn start(oidc_dir: &Path, redirect: &str) -> BrowserIdp {
        let mut child = std::process::Command::new("node")
            .arg(oidc_dir.join("provider.mjs"))
            .env("PIM_OIDC_REDIRECT", redirect)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the OIDC provider");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("the provider's first line");
        // Whatever it writes later is drained, so it never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("the provider said {line:?}: {e}"));
        let text = |k: &str| v[k].as_str().expect("issuer and listen").to_owned();
        BrowserIdp { issuer: text("issuer"), listen: text("listen"), child }
    }
}

impl Drop for BrowserIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The portal end to end in headless Chromium (`crates/pim/tests/portal/flow.mjs`): the data made
/// here with the CLI, then an eligible user enrolls MFA, signs in with a TOTP code, checks and
/// sends an activation that needs approval; the approver approves it in a second browser context;
/// the user sees the role active; an administrator filters the audit page and downloads the CSV.
/// Then, against the real OpenID Connect provider (`tests/oidc/provider.mjs`), "Sign in with
/// Contoso", the strict `__Host-` session cookie, the step-up at the provider, a forged `state` and
/// a disabled user. axe-core then scans every page. Screenshots go to `target/portal-screenshots/`. Skipped, with
/// the reason, when node, Chromium or the npm packages are missing, unless `CI=true`.
#[test]
fn portal_in_a_real_browser() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let portal_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/portal");
    let oidc_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    let chromium = PathBuf::from(std::env::var("PIM_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if let Some(why) = browser_test_missing(&portal_dir, &oidc_dir, &chromium) {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true requires the browser test to run, but {why}");
        eprintln!("skipping the browser test: {why}");
        return;
    }

    let tmp = tempfile::tempdir().expect("tempdir");
    // "Sign in with Contoso": the provider's client must know pim's callback before pim starts, so
    // pim's port is chosen first. Cookies are Secure (`__Host-`), as behind TLS: Chromium keeps
    // Secure cookies for http://127.0.0.1, and forms must come from the public URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let public = format!("http://127.0.0.1:{port}");
    let idp = BrowserIdp::start(&oidc_dir, &format!("{public}/portal/oidc/corp/callback"));
    let toml = format!(
        "[notifications]\npublic_url = \"{public}\"\n[portal]\nsecure_cookies = true\n\
         [[oidc]]\nname = \"corp\"\ndisplay_name = \"Contoso\"\nissuer = \"{}\"\nclient_id = \"pim\"\n\
         client_secret_env = \"PIM_TEST_OIDC_SECRET\"\nlink_by_verified_email = true\nstep_up = \"idp\"\n",
        idp.issuer
    );
    std::fs::write(tmp.path().join("pim.toml"), toml).expect("pim.toml");
    let listen = format!("127.0.0.1:{port}");
    let env = [("PIM_TEST_OIDC_SECRET", "pim-test-secret")];
    let server = Server::start(tmp.path(), &["--listen", &listen, "--data-dir", "data"], &env);
    let secret = server.secret.clone().expect("a setup secret");
    let admin = Cli::new(tmp.path()).with_env("PIM_SERVER", &server.url);
    let setup = ["setup", "--server", &server.url, "--username", "admin", "--secret", &secret, "--password-stdin"];
    admin.ok_in(&setup, "admin-password-1\n");
    for (user, display) in [("alice", "Alice Example"), ("ann", "Ann Approver"), ("bob", "Bob Builder")] {
        let email = format!("{user}@example.com");
        let create = ["users", "create", user, "--display-name", display, "--email", &email, "--password-stdin"];
        admin.ok_in(&create, &format!("{user}-password-1\n"));
    }
    let scopes = [
        ("/prod", "production", "environment"),
        ("/prod/db", "orders-db", "postgres.database"),
        ("/staging", "staging", "environment"),
    ];
    for (path, name, kind) in scopes {
        admin.ok(&["scopes", "add", path, "--name", name, "--type", kind]);
    }
    // A group with a member, so the group pages have something to show.
    admin.ok(&["groups", "create", "db-admins", "--description", "Database administrators"]);
    admin.ok(&["groups", "add-member", "db-admins", "bob"]);
    // The role of the flow: alice activates it with MFA, a justification and a ticket; ann approves.
    let role = ["--name", "Database Operator", "--description", "Operates databases", "--action", "postgres.*"];
    admin.ok(&[&["roles", "create"][..], &role[..]].concat());
    admin.ok(&[
        "settings",
        "set",
        "Database Operator",
        "--scope",
        "/prod",
        "--require-mfa",
        "true",
        "--require-justification",
        "true",
        "--require-ticket",
        "true",
        "--require-approval",
        "true",
        "--approver",
        "ann",
        "--approver-justification",
        "true",
        "--max-duration",
        "4h",
    ]);
    admin.ok(&["assign", "alice", "Database Operator", "--scope", "/prod", "--eligible", "-j", "on-call rotation"]);
    // More for the pages axe scans as admin: an eligible role of admin's own, a request waiting for
    // admin's approval, an access review with admin as reviewer, and the alerts evaluated.
    admin.ok(&["assign", "admin", "Reader", "--scope", "/prod", "--eligible", "-j", "reads production when needed"]);
    admin.ok(&["assign", "ann", "Reader", "--scope", "/prod", "--active", "--duration", "30d", "-j", "approver reads"]);
    let staging =
        ["--scope", "/staging", "--require-mfa", "false", "--require-approval", "true", "--approver", "admin"];
    admin.ok(&[&["settings", "set", "Contributor"][..], &staging[..]].concat());
    admin.ok(&["assign", "bob", "Contributor", "--scope", "/staging", "--eligible", "-j", "release duty"]);
    let bob = Cli::new(&tmp.path().join("bob")).with_env("PIM_SERVER", &server.url);
    bob.ok_in(&["login", "--username", "bob", "--password-stdin"], "bob-password-1\n");
    let out = bob.ok(&["activate", "Contributor", "--scope", "/staging", "--duration", "1h", "-j", "REL-9: hotfix"]);
    assert_eq!(field(&out, "status"), Some("PendingApproval"), "{out}");
    let review = ["reviews", "create", "prod readers", "--role", "Reader", "--scope", "/prod", "--reviewer", "admin"];
    admin.ok(&[&review[..], &["--duration-days", "14"][..]].concat());
    admin.ok(&["alerts", "evaluate"]);
    // Olga signs in with Contoso (linked by her verified email) and steps up there for a role that
    // requires MFA (the defaults: MFA and a justification).
    admin.ok_in(
        &["users", "create", "olga", "--display-name", "Olga OIDC", "--email", "olga@example.com", "--password-stdin"],
        "olga-password-1\n",
    );
    let responder = ["--name", "Incident Responder", "--description", "Answers incidents", "--action", "incidents.*"];
    admin.ok(&[&["roles", "create"][..], &responder[..]].concat());
    admin.ok(&["assign", "olga", "Incident Responder", "--scope", "/prod", "--eligible", "-j", "incident rota"]);

    // The browser, from the workspace root (a relative PIM_PORTAL_README_SCREENSHOT is taken from there).
    let target = pim_bin().parent().and_then(Path::parent).expect("the target directory").to_path_buf();
    let shots = target.join("portal-screenshots");
    let started = std::time::Instant::now();
    let mut node = Command::new("node");
    node.arg(portal_dir.join("flow.mjs"))
        .current_dir(&workspace)
        .env("PIM_PORTAL_URL", &server.url)
        .env("PIM_PORTAL_SCREENSHOTS", &shots)
        .env("PIM_TEST_CHROMIUM", &chromium)
        .env("PIM_PORTAL_ADMIN", "admin")
        .env("PIM_PORTAL_ADMIN_PASSWORD", "admin-password-1")
        .env("PIM_PORTAL_USER", "alice")
        .env("PIM_PORTAL_USER_PASSWORD", "alice-password-1")
        .env("PIM_PORTAL_APPROVER", "ann")
        .env("PIM_PORTAL_APPROVER_PASSWORD", "ann-password-1")
        .env("PIM_PORTAL_ROLE", "Database Operator")
        .env("PIM_PORTAL_ELIGIBLE_SCOPE", "/prod")
        .env("PIM_PORTAL_ACTIVATE_SCOPE", "/prod/db")
        .env("PIM_PORTAL_OIDC_PROVIDER", &idp.listen)
        .env("PIM_PORTAL_OIDC_USER", "olga")
        .env("PIM_PORTAL_OIDC_ROLE", "Incident Responder")
        .timeout(Duration::from_secs(600));
    let ran: Ran = node.output().expect("run node").into();
    eprintln!("the browser test took {:.1} s; screenshots in {}", started.elapsed().as_secs_f64(), shots.display());
    assert_eq!(
        ran.code,
        Some(0),
        "the browser test failed:\n{}{}\nthe server's log:\n{}",
        ran.stdout,
        ran.stderr,
        server.log_text()
    );
    eprint!("{}", ran.stdout);
    drop(server);
    drop(idp);
}

// ---------------------------------------------------------------------------------------------------
// Connectors from the command line: `pim connectors`, `pim activate --wait` until the targets have
// granted the access, `pim connectors status` and `credential`, and `pim whoami`'s TARGETS. The
// targets are webhooks served by a real HTTP receiver in the test; the server's worker runs on the
// real clock.

/// What the receiver's grant endpoints took: (endpoint, action, account, entitlement).
type Taken = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String, String)>>>;

/// A webhook receiver on a runtime of its own: `/ok` takes every call (204, after 0.4 s), `/fail` answers 500,
/// `/cred` takes it and hands back a credential. Its base URL, what it took, and its runtime.
fn webhook_receiver() -> (String, Taken, tokio::runtime::Runtime) {
    use axum::body::Bytes;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let taken: Taken = Taken::default();
    let route = |name: &'static str, status: StatusCode, answer: &'static str| {
        let log = taken.clone();
        axum::routing::post(move |body: Bytes| {
            let log = log.clone();
            async move {
                let doc: Value = serde_json::from_slice(&body).unwrap_or_default();
                let s = |k: &str| doc[k].as_str().unwrap_or_default().to_owned();
                log.lock().expect("log").push((name.to_owned(), s("action"), s("account"), s("entitlement")));
                if name == "ok" {
                    // A slow target, so that `--wait` has to wait for it.
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
                (status, [("content-type", "application/json")], answer).into_response()
            }
        })
    };
    let app = axum::Router::new()
        .route("/ok", route("ok", StatusCode::NO_CONTENT, ""))
        .route("/fail", route("fail", StatusCode::INTERNAL_SERVER_ERROR, "down"))
        .route("/cred", route("cred", StatusCode::OK, r#"{"credential": "pw-Hook-7q!x"}"#));
    let rt = tokio::runtime::Runtime::new().expect("a runtime for the receiver");
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}"), taken, rt)
}

/// `pim.toml` with three webhook connectors of the Database Reader role: prod-db (takes grants),
/// crm (answers 500, one attempt) and vault (hands out a credential).
fn connectors_toml(base: &str) -> String {
    let one = |name: &str, path: &str, scope: &str, entitlement: &str, extra: &str| {
        format!(
            "[[connectors]]\nname = \"{name}\"\nkind = \"webhook\"\nurl = \"{base}{path}\"\n{extra}\
             [[connectors.mappings]]\nrole = \"Database Reader\"\nscope = \"{scope}\"\nentitlement = \"{entitlement}\"\n\n"
        )
    };
    [
        one("prod-db", "/ok", "/apps/prod", "db_reader", ""),
        one("crm", "/fail", "/apps/crm", "crm_admin", "max_grant_attempts = 1\nretry_max_secs = 1\n"),
        one("vault", "/cred", "/apps/vault", "vault_user", ""),
    ]
    .concat()
}

/// A server with those connectors; root signed in and eligible for Database Reader (no MFA) at
/// /apps/{prod,crm,vault,none}.
fn connectors_world(dir: &Path, base: &str) -> (Server, Cli) {
    std::fs::write(dir.join("pim.toml"), connectors_toml(base)).expect("pim.toml");
    let server = Server::start(dir, &["--listen", "127.0.0.1:0", "--data-dir", "data"], &[]);
    let secret = server.secret.clone().expect("a setup secret");
    let cli = Cli::new(dir);
    let setup = ["--server", &server.url, "setup", "--username", "root", "--secret", &secret, "--password-stdin"];
    cli.ok_in(&setup, "root-password-1\n");
    cli.ok(&["roles", "create", "--name", "Database Reader", "--action", "db.read"]);
    cli.ok(&[
        "settings",
        "set",
        "Database Reader",
        "--scope",
        "/apps",
        "--require-mfa",
        "false",
        "--max-duration",
        "4h",
    ]);
    for scope in ["/apps/prod", "/apps/crm", "/apps/vault", "/apps/none"] {
        cli.ok(&["assign", "root", "Database Reader", "--scope", scope, "--eligible", "-j", "on call"]);
    }
    (server, cli)
}

/// `pim activate "Database Reader" --scope SCOPE --wait` (and `extra`), polling every 0.1 s.
fn activate_and_wait(cli: &Cli, scope: &str, extra: &[&str]) -> Ran {
    let mut args = vec!["activate", "Database Reader", "--scope", scope, "-d", "1h", "-j", "INC-9"];
    args.extend_from_slice(&["--wait", "--wait-timeout", "1m", "--poll-interval", "0.1"]);
    args.extend_from_slice(extra);
    cli.raw(&args, "")
}

#[test]
fn connectors_list_and_activate_wait_for_the_target() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (base, taken, _rt) = webhook_receiver();
    let (server, cli) = connectors_world(tmp.path(), &base);

    // The list: a table by default, the API's JSON with -o json.
    let table = cli.ok(&["connectors"]);
    assert!(table.starts_with("NAME") && table.contains("MAPPINGS") && table.contains("RECONCILED"), "{table}");
    let row = table.lines().find(|l| l.starts_with("prod-db")).unwrap_or_else(|| panic!("no prod-db in {table}"));
    assert!(row.contains("webhook") && row.contains("Database Reader @ /apps/prod -> db_reader"), "{row}");
    let list = cli.json(&["connectors", "list"]);
    let names: Vec<&str> = list.as_array().expect("an array").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["prod-db", "crm", "vault"], "{list}");
    assert_eq!(list[0]["mappings"][0]["entitlement"], "db_reader", "{list}");

    // Activated and waited for: it returns once the receiver has taken the grant.
    let r = activate_and_wait(&cli, "/apps/prod", &[]);
    assert_eq!(r.code, Some(0), "{}{}\n{}", r.stdout, r.stderr, server.log_text());
    assert!(r.stdout.contains("granted in prod-db (db_reader)"), "{}", r.stdout);
    assert!(r.stderr.contains("Waiting for prod-db to grant the access"), "{}", r.stderr);
    assert!(r.stdout.contains("status:") && r.stdout.contains("Provisioned"), "the outcome first: {}", r.stdout);
    let seen = taken.lock().expect("taken").clone();
    assert_eq!(seen, [("ok".to_owned(), "grant".to_owned(), "root".to_owned(), "db_reader".to_owned())]);
    assert!(!r.stdout.contains("crm") && !r.stdout.contains("vault"), "only the mapped target: {}", r.stdout);

    // Where it stands: the caller's, and a principal's by name, as a table and as JSON.
    let status = cli.ok(&["connectors", "status"]);
    assert!(status.starts_with("CONNECTOR") && status.contains("LAST ERROR"), "{status}");
    let line = status.lines().find(|l| l.starts_with("prod-db")).unwrap_or_else(|| panic!("{status}"));
    assert!(line.contains("db_reader") && line.contains("root") && line.contains("granted"), "{line}");
    let rows = cli.json(&["connectors", "status", "root"]);
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!((rows[0]["connector"].as_str(), rows[0]["state"].as_str()), (Some("prod-db"), Some("granted")));

    // pim whoami shows the target's state next to the active role.
    let me = cli.ok(&["whoami"]);
    let active = me.split("Eligible roles:").next().expect("active part");
    assert!(active.contains("TARGETS") && active.contains("prod-db: granted"), "{me}");

    // No connector maps the role there: --wait returns at once, naming no target.
    let r = activate_and_wait(&cli, "/apps/none", &["-o", "json"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {}", r.stdout));
    assert_eq!(doc["request"]["status"], "Provisioned", "{doc}");
    assert_eq!(doc["provisioning"], serde_json::json!([]), "{doc}");
    assert!(!r.stderr.contains("Waiting for"), "{}", r.stderr);

    // Reconciliation of a webhook without list_url: nothing to list, nothing wrong.
    let rec = cli.ok(&["connectors", "reconcile", "prod-db"]);
    assert_eq!(field(&rec, "connector"), Some("prod-db"), "{rec}");
    assert!(field(&rec, "listed").is_some_and(|v| v.starts_with("no")), "{rec}");
    let rec = cli.json(&["connectors", "reconcile", "prod-db"]);
    assert_eq!((rec["listed"].as_bool(), rec["unmanaged"].as_array().map(Vec::len)), (Some(false), Some(0)));
    let err = cli.fails(&["connectors", "reconcile", "no-such"], "");
    assert!(err.contains("no-such"), "{err}");
    drop(server);
}

#[test]
fn activate_wait_fails_naming_the_target_and_credentials_are_shown_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (base, taken, _rt) = webhook_receiver();
    let (server, cli) = connectors_world(tmp.path(), &base);

    // The receiver answers 500 and the connector makes one attempt: the wait fails, naming it.
    let r = activate_and_wait(&cli, "/apps/crm", &[]);
    assert_eq!(r.code, Some(1), "{}{}\n{}", r.stdout, r.stderr, server.log_text());
    assert!(r.stderr.starts_with("error: ") || r.stderr.contains("\nerror: "), "{}", r.stderr);
    let error = r.stderr.lines().find(|l| l.starts_with("error: ")).expect("an error line");
    assert!(error.contains("not granted in crm") && error.contains("HTTP 500"), "{error}");
    assert!(!r.stdout.contains("granted in"), "{}", r.stdout);
    assert!(taken.lock().expect("taken").iter().any(|t| t.0 == "fail" && t.1 == "grant"), "the receiver was called");
    let rows = cli.json(&["connectors", "status"]);
    let crm = rows.as_array().expect("rows").iter().find(|p| p["connector"] == "crm").expect("crm's entry");
    assert_eq!(crm["state"], "failed", "{rows}");
    assert!(crm["lastError"].as_str().is_some_and(|e| e.contains("HTTP 500")), "{rows}");
    let me = cli.ok(&["whoami"]);
    assert!(me.contains("crm: failed"), "{me}");
    let list = cli.json(&["connectors"]);
    let crm = list.as_array().expect("list").iter().find(|c| c["name"] == "crm").expect("crm");
    assert_eq!(crm["granted"], 0, "{list}");

    // The JSON of a wait: the outcome with where the access stands in the targets.
    let r = activate_and_wait(&cli, "/apps/vault", &["-o", "json"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {}", r.stdout));
    assert_eq!(doc["provisioning"][0]["connector"], "vault", "{doc}");
    assert_eq!(doc["provisioning"][0]["state"], "granted", "{doc}");
    assert!(doc["assignment"]["id"].is_string(), "{doc}");

    // The credential the target handed out: shown once, then gone.
    let c = cli.raw(&["connectors", "credential", "vault"], "");
    assert_eq!(c.code, Some(0), "{}{}", c.stdout, c.stderr);
    assert_eq!(field(&c.stdout, "login"), Some("root"), "{}", c.stdout);
    assert_eq!(field(&c.stdout, "password"), Some("pw-Hook-7q!x"), "{}", c.stdout);
    assert!(c.stdout.contains("Shown once"), "{}", c.stdout);
    let err = cli.fails(&["connectors", "credential", "vault"], "");
    assert!(err.contains("none is waiting"), "{err}");
    let err = cli.fails(&["connectors", "credential", "prod-db"], "");
    assert!(err.contains("none is waiting"), "{err}");
    drop(server);
}

/// Roles made in the PostgreSQL target by one test (all named `{prefix}_...`), dropped at its end.
struct PgRoles {
    url: String,
    prefix: String,
}

impl Drop for PgRoles {
    fn drop(&mut self) {
        // Never panics: this also runs while a failed test unwinds.
        for r in ["alice", "reader"] {
            if let Err(e) = pg_execute(&self.url, &format!("DROP ROLE IF EXISTS {}_{r}", self.prefix)) {
                eprintln!("could not drop the test role {}_{r}: {e}", self.prefix);
            }
        }
    }
}

/// Whether `login` exists in the target, may log in, and is a member of `role`.
fn pg_login_member_of(url: &str, login: &str, role: &str) -> (bool, bool) {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect to the target");
        let can_login: Option<bool> = sqlx::query_scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1")
            .bind(login)
            .fetch_optional(&mut c)
            .await
            .expect("pg_roles");
        let member: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid \
             JOIN pg_roles m ON m.oid = am.member WHERE r.rolname = $1 AND m.rolname = $2)",
        )
        .bind(role)
        .bind(login)
        .fetch_one(&mut c)
        .await
        .expect("pg_auth_members");
        (can_login == Some(true), member)
    })
}

#[test]
fn a_managed_login_is_announced_and_its_password_handed_out_once() {
    let url = match std::env::var("PIM_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true requires PIM_TEST_POSTGRES_URL");
            eprintln!("skipped: PIM_TEST_POSTGRES_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)");
            return;
        }
    };
    let prefix = format!("pimt_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (alice, reader) = (format!("{prefix}_alice"), format!("{prefix}_reader"));
    pg_execute(&url, &format!("CREATE ROLE {reader} NOLOGIN")).expect("create the entitlement in the target");
    let _roles = PgRoles { url: url.clone(), prefix: prefix.clone() };

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let toml = format!(
        "[[connectors]]\nname = \"prod-db\"\nkind = \"postgres\"\nurl = \"{url}\"\nmanaged_logins = true\n\
         [[connectors.mappings]]\nrole = \"Database Reader\"\nscope = \"/apps/prod\"\nentitlement = \"{reader}\"\n"
    );
    std::fs::write(dir.join("pim.toml"), toml).expect("pim.toml");
    let server = Server::start(dir, &["--listen", "127.0.0.1:0", "--data-dir", "data"], &[]);
    let secret = server.secret.clone().expect("a setup secret");
    let cli = Cli::new(dir);
    let setup = ["--server", &server.url, "setup", "--username", "root", "--secret", &secret, "--password-stdin"];
    cli.ok_in(&setup, "root-password-1\n");
    cli.ok_in(&["users", "create", &alice, "--password-stdin"], "alice-password-1\n");
    cli.ok(&["roles", "create", "--name", "Database Reader", "--action", "db.read"]);
    cli.ok(&["settings", "set", "Database Reader", "--scope", "/apps", "--require-mfa", "false"]);
    cli.ok(&["assign", &alice, "Database Reader", "--scope", "/apps/prod", "--eligible", "-j", "on call"]);
    // Reader at / lets her read the connectors, so the CLI knows prod-db makes logins.
    cli.ok(&["assign", &alice, "Reader", "--scope", "/", "--active", "-j", "reads pim"]);
    cli.ok_in(&["login", "--server", &server.url, "--username", &alice, "--password-stdin"], "alice-password-1\n");
    assert_eq!(pg_login_member_of(&url, &alice, &reader), (false, false), "no login before the activation");

    let r = activate_and_wait(&cli, "/apps/prod", &[]);
    assert_eq!(r.code, Some(0), "{}{}\n{}", r.stdout, r.stderr, server.log_text());
    assert!(r.stdout.contains(&format!("granted in prod-db ({reader})")), "{}", r.stdout);
    assert!(
        r.stderr.contains(&format!("prod-db made a login for you ({alice})"))
            && r.stderr.contains("pim connectors credential prod-db"),
        "{}",
        r.stderr
    );
    assert_eq!(pg_login_member_of(&url, &alice, &reader), (true, true), "the login is made and granted");

    // Its password, once; it stops working when the activation ends.
    let end = cli.json(&["whoami"])["activeAssignments"]
        .as_array()
        .expect("active")
        .iter()
        .find(|a| a["scope"] == "/apps/prod")
        .and_then(|a| a["window"]["end"].as_str().map(to_second))
        .expect("the activation's end");
    let c = cli.ok(&["connectors", "credential", "prod-db"]);
    assert_eq!(field(&c, "login"), Some(alice.as_str()), "{c}");
    assert!(field(&c, "password").is_some_and(|p| p.len() >= 16), "{c}");
    assert_eq!(field(&c, "valid until"), Some(end.as_str()), "{c}");
    assert!(c.contains("Shown once"), "{c}");
    let err = cli.fails(&["connectors", "credential", "prod-db"], "");
    assert!(err.contains("none is waiting"), "{err}");
    drop(server);
}

#[test]
fn access_tokens_from_the_command_line_end_with_pim_deactivate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("pim.toml"), "[tokens]\nissuer = \"https://pim.example.com\"\n").expect("pim.toml");
    let server = Server::start(dir, &["--listen", "127.0.0.1:0", "--data-dir", "data"], &[]);
    let secret = server.secret.clone().expect("a setup secret");
    let cli = Cli::new(dir);
    let setup = ["--server", &server.url, "setup", "--username", "root", "--secret", &secret, "--password-stdin"];
    cli.ok_in(&setup, "root-password-1\n");
    cli.ok(&["roles", "create", "--name", "Operator", "--action", "k8s.*"]);
    cli.ok(&["settings", "set", "Operator", "--scope", "/k8s", "--require-mfa", "false"]);
    cli.ok(&["assign", "root", "Operator", "--scope", "/k8s", "--eligible", "-j", "on call"]);
    cli.ok(&["sps", "create", "k8s-gateway"]);
    let shown = cli.ok(&[
        "audiences",
        "create",
        "k8s",
        "--role",
        "Operator",
        "--scope-prefix",
        "/k8s",
        "--lifetime",
        "10m",
        "--introspector",
        "k8s-gateway",
    ]);
    assert!(shown.contains("600 s") && shown.contains("k8s-gateway") && shown.contains("Operator"), "{shown}");
    assert!(cli.ok(&["audiences", "list"]).contains("k8s"));
    // Nothing active yet: a clear refusal.
    let err = cli.fails(&["token", "--audience", "k8s"], "");
    assert!(err.contains("no_grant_for_audience"), "{err}");
    cli.ok(&["activate", "Operator", "--scope", "/k8s", "--duration", "30m", "-j", "INC-7"]);
    let token = cli.ok(&["token", "--audience", "k8s"]).trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "the JWT alone: {token}");
    let shown = cli.json(&["token", "--audience", "k8s"]);
    assert_eq!((shown["audience"].as_str(), shown["grants"][0]["role"].as_str()), (Some("k8s"), Some("Operator")));
    assert!(shown["expiresIn"].as_i64().is_some_and(|s| s <= 600), "{shown}");
    let active = cli.ok(&["token", "introspect", &token]);
    assert!(active.contains("active:") && active.contains("true") && active.contains("Operator at /k8s"), "{active}");
    let meta = http(&server.addr, "GET", "/.well-known/oauth-authorization-server", &[], "");
    assert!(meta.1.contains("\"issuer\":\"https://pim.example.com\""), "{meta:?}");
    // Keys: one current; a rotation adds one.
    assert!(cli.ok(&["keys", "list"]).contains("current"));
    let rotated = cli.ok(&["keys", "rotate"]);
    assert!(rotated.contains("rotated") && rotated.contains("current"), "{rotated}");
    assert!(cli.ok(&["token", "introspect", &token]).contains("true"), "the old key still verifies");
    // pim deactivate: introspection answers false right away.
    cli.ok(&["deactivate", "Operator", "--scope", "/k8s"]);
    let r = cli.raw(&["token", "introspect", &token], "");
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stdout.contains("active: false"), "{}", r.stdout);
    let r = cli.raw(&["-o", "json", "token", "introspect", &token], "");
    assert_eq!(serde_json::from_str::<Value>(&r.stdout).expect("JSON"), serde_json::json!({ "active": false }));
    cli.ok(&["audiences", "delete", "k8s"]);
    assert!(cli.fails(&["audiences", "show", "k8s"], "").contains("not_found"));
    drop(server);
}

// ---------------------------------------------------------------------------------------------------
// SSH certificates against a real sshd.

/// The OpenSSH programs: `PIM_TEST_SSHD` (default /usr/sbin/sshd) and `PIM_TEST_SSH` (default
/// `ssh`; `ssh-keygen` is taken from beside it or from `PATH`). `None`, with the reason printed,
/// when one is missing; a failure instead when `CI=true`.
fn openssh() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let var = |k: &str, d: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| d.to_owned());
    let sshd = PathBuf::from(var("PIM_TEST_SSHD", "/usr/sbin/sshd"));
    let ssh = PathBuf::from(var("PIM_TEST_SSH", "ssh"));
    let keygen = match ssh.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.join("ssh-keygen"),
        None => PathBuf::from("ssh-keygen"),
    };
    let runs = |p: &Path, arg: &str| {
        std::process::Command::new(p)
            .arg(arg)
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| !o.stderr.is_empty() || o.status.success())
    };
    let missing: Vec<String> = [(&sshd, "-V"), (&ssh, "-V"), (&keygen, "-?")]
        .iter()
        .filter(|(p, a)| !runs(p, a))
        .map(|(p, _)| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some((sshd, ssh, keygen));
    }
    let why = format!(
        "OpenSSH is missing ({}); set PIM_TEST_SSHD and PIM_TEST_SSH (apt-get install openssh-server openssh-client)",
        missing.join(", ")
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}, and CI=true requires the SSH test to run");
    eprintln!("skipped: {why}");
    None
}

/// A real `sshd` on a free port of 127.0.0.1 that trusts `ca.pub` and lets the current user in
/// with a certificate for one of the principals listed for it; killed when dropped.
struct Sshd {
    child: Child,
    port: u16,
    user: String,
    log: PathBuf,
    dir: PathBuf,
}

impl Sshd {
    fn start(sshd: &Path, keygen: &Path, dir: &Path, ca_pub: &str, principals: &[&str]) -> Sshd {
        std::fs::create_dir_all(dir).expect("sshd dir");
        let user = String::from_utf8(std::process::Command::new("id").arg("-un").output().expect("id -un").stdout)
            .expect("user name")
            .trim()
            .to_owned();
        let root = String::from_utf8_lossy(&std::process::Command::new("id").arg("-u").output().expect("id -u").stdout)
            .trim()
            == "0";
        if root {
            // sshd started by root separates privileges and needs this empty directory.
            std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        }
        let host_key = dir.join("host_ed25519");
        let made = std::process::Command::new(keygen)
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key)
            .status()
            .expect("ssh-keygen");
        assert!(made.success(), "ssh-keygen made no host key");
        std::fs::write(dir.join("ca.pub"), ca_pub).expect("ca.pub");
        std::fs::create_dir_all(dir.join("principals")).expect("principals dir");
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nTrustedUserCAKeys {}\nAuthorizedPrincipalsFile {}/principals/%u\n\
             AuthorizedKeysFile none\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             UsePAM no\nStrictModes no\nPidFile none\nLogLevel VERBOSE\n",
            host_key.display(),
            dir.join("ca.pub").display(),
            dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config).expect("sshd_config");
        let log = dir.join("sshd.log");
        let child = std::process::Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("sshd log"))
            .spawn()
            .expect("start sshd");
        let mut sshd = Sshd { child, port, user, log, dir: dir.to_owned() };
        sshd.allow(principals);
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sshd;
            }
            if let Ok(Some(status)) = sshd.child.try_wait() {
                panic!("sshd exited ({status}): {}", sshd.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sshd did not listen on {port}: {}", sshd.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Lists `principals` for the login user (sshd reads the file at every login).
    fn allow(&self, principals: &[&str]) {
        let file = self.dir.join("principals").join(&self.user);
        std::fs::write(file, format!("{}\n", principals.join("\n"))).expect("principals");
    }

    /// What sshd logged during `f` (it logs a refusal's reason before ssh returns).
    fn logged_during<T>(&self, f: impl FnOnce() -> T) -> (T, String) {
        let before = self.log_text().len();
        let out = f();
        std::thread::sleep(Duration::from_millis(200));
        let text = self.log_text();
        (out, text.get(before..).unwrap_or_default().to_owned())
    }

    /// `ssh` with the private key `key` and its certificate: whether the login succeeded (the
    /// remote command printed its word), and what ssh printed on standard error.
    fn login(&self, ssh: &Path, key: &Path, cert: &Path) -> (bool, String) {
        let out = std::process::Command::new(ssh)
            .args(["-F", "/dev/null", "-p", &self.port.to_string(), "-i"])
            .arg(key)
            .arg("-o")
            .arg(format!("CertificateFile={}", cert.display()))
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("{}@127.0.0.1", self.user))
            .arg("echo pim-ssh-ok")
            .stdin(Stdio::null())
            .output()
            .expect("run ssh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        (out.status.success() && stdout.trim() == "pim-ssh-ok", String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user's key pair made by ssh-keygen: (private key, public key).
fn ssh_key_pair(keygen: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).expect("key dir");
    let key = dir.join("id_ed25519");
    let made = std::process::Command::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(made.success(), "ssh-keygen made no key");
    (key.clone(), dir.join("id_ed25519.pub"))
}

/// Milliseconds since the epoch, by the machine's clock (what sshd reads).
fn wall_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970");
    i64::try_from(d.as_millis()).expect("ms")
}

#[test]
fn ssh_certificates_against_a_real_sshd() {
    let Some((sshd_bin, ssh, keygen)) = openssh() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("pim.toml"), "[ssh]\nmax_certificate_hours = 2\n").expect("pim.toml");
    let admin = Cli::new(dir);
    let server = Server::start(dir, &["--listen", "127.0.0.1:0", "--data-dir", "data"], &[]);
    let secret = server.secret.clone().expect("a setup secret");
    let setup = ["--server", &server.url, "setup", "--username", "root", "--secret", &secret, "--password-stdin"];
    admin.ok_in(&setup, "root-password-1\n");

    // Two roles with SSH principals: the host below lets `deploy` in, not `ops`.
    for (role, action, principal) in [("Deployer", "deploy.*", "deploy"), ("Operator", "ops.*", "ops")] {
        admin.ok(&["roles", "create", "--name", role, "--action", action]);
        let shown = admin.ok(&["settings", "set", role, "--require-mfa", "false", "--ssh-principal", principal]);
        assert_eq!(field(&shown, "SSH principals"), Some(principal), "{shown}");
    }
    for name in ["alice", "bob", "carol"] {
        admin.ok_in(&["users", "create", name, "--password-stdin"], &format!("{name}-password-1\n"));
    }
    admin.ok(&["assign", "alice", "Deployer", "--eligible", "-j", "on call"]);
    admin.ok(&["assign", "bob", "Operator", "--active", "--duration", "1h", "-j", "ops work"]);

    // The host trusts pim's CA: the key anyone may fetch, no token needed.
    let (status, ca_pub) = http(&server.addr, "GET", "/api/v1/ssh/ca.pub", &[], "");
    assert_eq!(status, 200, "{ca_pub}");
    assert!(ca_pub.starts_with("ssh-ed25519 ") && ca_pub.ends_with('\n') && ca_pub.lines().count() == 1, "{ca_pub}");
    assert_eq!(admin.ok(&["ssh-ca"]), ca_pub, "pim ssh-ca prints the same line");
    let sshd = Sshd::start(&sshd_bin, &keygen, &dir.join("sshd"), &ca_pub, &["deploy"]);

    let user = |name: &str| {
        let cli = Cli::new(&dir.join(name));
        cli.ok_in(
            &["--server", &server.url, "login", "--username", name, "--password-stdin"],
            &format!("{name}-password-1\n"),
        );
        let (key, public) = ssh_key_pair(&keygen, &dir.join(name).join("ssh"));
        (cli, key, public)
    };

    // Alice's day: no certificate before she activates; then one, valid until the activation ends.
    let (alice, alice_key, alice_pub) = user("alice");
    let public = alice_pub.to_str().expect("path");
    let err = alice.fails(&["ssh-cert", "--public-key", public], "");
    assert!(err.contains("not_active") && err.contains("pim activate"), "{err}");
    alice.ok(&["activate", "Deployer", "--duration", "30m", "-j", "deploy the release", "--wait"]);
    let shown = alice.ok(&["ssh-cert", "--public-key", public]);
    let cert = alice_pub.with_file_name("id_ed25519-cert.pub");
    assert_eq!(field(&shown, "certificate"), Some(cert.to_str().expect("path")), "{shown}");
    assert_eq!(field(&shown, "principals"), Some("deploy"), "{shown}");
    let end = alice.json(&["whoami"])["activeAssignments"]
        .as_array()
        .expect("active")
        .iter()
        .find(|a| a["window"]["end"].is_string())
        .and_then(|a| a["window"]["end"].as_str().map(to_second))
        .expect("the activation's end");
    assert_eq!(field(&shown, "valid until").map(to_second), Some(end), "{shown}");
    let id = field(&shown, "activation").expect("the activation").to_owned();
    assert_eq!(field(&shown, "key id"), Some(format!("pim user=alice activation={id}").as_str()), "{shown}");
    let (ok, stderr) = sshd.login(&ssh, &alice_key, &cert);
    assert!(ok, "alice's certificate should let her in: {stderr}\n{}", sshd.log_text());
    assert!(sshd.log_text().contains(&format!("pim user=alice activation={id}")), "sshd logs the key id");
    let json = alice.json(&["ssh-cert", "--public-key", public, "--out", "-"]);
    assert_eq!(json["principals"], serde_json::json!(["deploy"]));
    assert_eq!(json["assignmentId"].as_str(), Some(id.as_str()));

    // Bob's role allows `ops`, which this host does not list for the account: sshd refuses.
    let (bob, bob_key, bob_pub) = user("bob");
    let shown = bob.ok(&["ssh-cert", "--public-key", bob_pub.to_str().expect("path")]);
    assert_eq!(field(&shown, "principals"), Some("ops"), "{shown}");
    let bob_cert = bob_pub.with_file_name("id_ed25519-cert.pub");
    let ((ok, _), logged) = sshd.logged_during(|| sshd.login(&ssh, &bob_key, &bob_cert));
    assert!(!ok, "a certificate for a principal the host does not list is refused");
    assert!(
        logged.contains("Certificate does not contain an authorized principal"),
        "refused for its principal, not something else:\n{logged}"
    );
    // The same key and certificate log in once the host lists `ops` for the account.
    sshd.allow(&["deploy", "ops"]);
    let ((ok, stderr), logged) = sshd.logged_during(|| sshd.login(&ssh, &bob_key, &bob_cert));
    assert!(ok, "bob's certificate lets him in where `ops` is listed: {stderr}\n{logged}");
    assert!(logged.contains("pim user=bob activation="), "{logged}");
    sshd.allow(&["deploy"]);

    // Carol's assignment ends in a few seconds: her certificate works until then, not after.
    let ends = pim_domain::Timestamp((wall_ms() / 1000 + 8) * 1000);
    admin.ok(&["assign", "carol", "Deployer", "--active", "--end", &ends.to_rfc3339(), "-j", "a short task"]);
    let (carol, carol_key, carol_pub) = user("carol");
    let carol_json = carol.json(&["ssh-cert", "--public-key", carol_pub.to_str().expect("path"), "--out", "-"]);
    assert_eq!(carol_json["validBefore"].as_str().map(to_second), Some(to_second(&ends.to_rfc3339())));
    let carol_cert = dir.join("carol").join("carol-cert.pub");
    carol.ok(&[
        "ssh-cert",
        "--public-key",
        carol_pub.to_str().expect("path"),
        "--out",
        carol_cert.to_str().expect("path"),
    ]);
    let (ok, stderr) = sshd.login(&ssh, &carol_key, &carol_cert);
    assert!(ok, "before its end: {stderr}\n{}", sshd.log_text());
    while wall_ms() < ends.0 + 1_000 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let ((ok, _), logged) = sshd.logged_during(|| sshd.login(&ssh, &carol_key, &carol_cert));
    assert!(!ok, "after the certificate's end sshd refuses it\n{logged}");
    assert!(logged.contains("expired"), "refused as expired:\n{logged}");
    let err = carol.fails(&["ssh-cert", "--public-key", carol_pub.to_str().expect("path")], "");
    assert!(err.contains("not_active"), "and pim signs no new one: {err}");

    // A private key is never sent.
    let err = alice.fails(&["ssh-cert", "--public-key", alice_key.to_str().expect("path")], "");
    assert!(err.contains("is a private key"), "{err}");
    drop(sshd);
    drop(server);
}

#[test]
fn scim_clients_from_the_command_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path").to_owned();
    let server = Server::start(tmp.path(), &["--listen", "127.0.0.1:0", "--data-dir", data_arg.as_str()], &[]);
    let secret = server.secret.clone().expect("setup secret");
    let admin = Cli::new(tmp.path());
    admin.ok_in(
        &["setup", "--server", &server.url, "--username", "admin", "--secret", &secret, "--password-stdin"],
        "admin-password-1\n",
    );
    // The secret is printed once, with the endpoint to give the identity provider.
    let out = admin.ok(&["scim", "clients", "create", "entra"]);
    let scim_secret = field(&out, "secret").expect("a secret").to_owned();
    assert!(scim_secret.starts_with("pimscim_"), "{out}");
    assert_eq!(field(&out, "endpoint"), Some(format!("{}/scim/v2", server.url).as_str()), "{out}");
    let bearer = format!("Bearer {scim_secret}");
    let (status, body) = http(&server.addr, "GET", "/scim/v2/ServiceProviderConfig", &[("authorization", &bearer)], "");
    assert_eq!(status, 200, "{body}");
    let listed = admin.json(&["scim", "clients", "list"]);
    assert_eq!(items(&listed)[0]["name"], "entra");
    assert!(items(&listed)[0].get("revokedAt").is_none());
    let err = admin.fails(&["scim", "clients", "create", "entra"], "");
    assert!(err.ends_with("(name_taken)\n"), "{err}");
    // Revoked: the secret stops working, and the list says so.
    let out = admin.ok(&["scim", "clients", "revoke", "entra"]);
    assert_eq!(field(&out, "status"), Some("revoked"), "{out}");
    let (status, _) = http(&server.addr, "GET", "/scim/v2/Users", &[("authorization", &bearer)], "");
    assert_eq!(status, 401);
    let table = admin.ok(&["scim", "clients", "list"]);
    assert!(table.lines().any(|l| l.contains("entra") && l.contains("revoked")), "{table}");
}
