// pim's portal in a real headless Chromium, driven by Playwright (playwright-core), against a
// running `pim serve` whose data crates/pim/tests/cli.rs (portal_in_a_real_browser) prepared.
//
// 1. The flow, in normal browser contexts (the portal's CSP enforced): the eligible user signs in,
//    sets up an authenticator on Security (TOTP codes computed here, RFC 6238), signs out, signs in
//    again with password and code, checks and sends an activation that needs approval (My requests
//    shows it pending); the approver, in a second context, approves it on Approve requests; the
//    user sees the role active on My roles; an administrator, in a third context, filters the
//    audit page by action and downloads the CSV.
//    Then, with PIM_PORTAL_OIDC_PROVIDER (the test hook of crates/pim/tests/oidc/provider.mjs, whose
//    provider pim knows as "corp", "Contoso", step_up = "idp"): the OIDC user signs in with Contoso
//    (strict __Host- session cookie, a CSRF-protected form works, a forged token is refused), steps
//    up at Contoso for a role that requires MFA (without MFA and as another account: refused, the
//    session unchanged; with MFA: back on the form as typed, activated); a callback with a forged
//    state shows a refusal and starts no session; disabled by the administrator, the user is refused.
// 2. axe-core on every page (WCAG 2.0/2.1 A and AA): no serious or critical violation. It runs in a
//    context created with bypassCSP, because injecting axe is an inline script.
//
// Every page visited is saved as a screenshot: $PIM_PORTAL_SCREENSHOTS/<nn>-<name>.png. With
// PIM_PORTAL_README_SCREENSHOT=PATH it also writes the README's picture of My roles there.
// Exit code 0 when everything passed, 1 otherwise; what failed is printed with the URL and what
// the page showed.

import { createHmac } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

// ------------------------------------------------------------------------------------------------
// Configuration (environment variables, set by cli.rs).

function env(name, fallback) {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") {
    console.error(`flow.mjs: set ${name} (see crates/pim/tests/portal/README.md)`);
    process.exit(2);
  }
  return v;
}

const BASE = env("PIM_PORTAL_URL").replace(/\/$/, "");
const SHOTS = path.resolve(env("PIM_PORTAL_SCREENSHOTS", "target/portal-screenshots"));
const README_SHOT = process.env.PIM_PORTAL_README_SCREENSHOT || "";
const CHROMIUM = env("PIM_TEST_CHROMIUM", "/usr/bin/chromium");
const ADMIN = { name: env("PIM_PORTAL_ADMIN", "admin"), password: env("PIM_PORTAL_ADMIN_PASSWORD") };
const USER = { name: env("PIM_PORTAL_USER", "alice"), password: env("PIM_PORTAL_USER_PASSWORD") };
const APPROVER = { name: env("PIM_PORTAL_APPROVER", "ann"), password: env("PIM_PORTAL_APPROVER_PASSWORD") };
const ROLE = env("PIM_PORTAL_ROLE", "Database Operator");
const ELIGIBLE_SCOPE = env("PIM_PORTAL_ELIGIBLE_SCOPE", "/prod");
const ACTIVATE_SCOPE = env("PIM_PORTAL_ACTIVATE_SCOPE", "/prod/db");
const VIEWPORT = { width: 1280, height: 800 };
const TIMEOUT_MS = Number(process.env.PIM_PORTAL_TIMEOUT_MS || 30000);

const IDP = (process.env.PIM_PORTAL_OIDC_PROVIDER || "").replace(/\/$/, "");
const OIDC_USER = process.env.PIM_PORTAL_OIDC_USER || "olga";
const OIDC_ROLE = process.env.PIM_PORTAL_OIDC_ROLE || "Incident Responder";
const OIDC_CLAIMS = { preferred_username: OIDC_USER, email: `${OIDC_USER}@example.com`, email_verified: true };

const JUSTIFICATION = "INC-4711: migrate the orders database";
const TICKET = { system: "jira", number: "OPS-4711" };
const APPROVAL_JUSTIFICATION = "change window CW-12";

// The columns of the audit CSV (crates/pim-server/src/handlers/audit.rs CSV_COLUMNS).
const AUDIT_CSV_HEADER =
  "seq,at,action,outcome,errorCode,actorId,actorName,principalId,roleId,scope,justification,ticket," +
  "requestId,httpRequestId,clientAddr,details,prevHash,hash";

// Every page axe scans, signed in as the administrator unless `signedOut`. `status` is what the
// page must answer (200 unless said otherwise).
const PAGES = [
  { name: "signin", path: "/signin", signedOut: true },
  { name: "my-roles", path: "/roles" },
  { name: "security", path: "/mfa" },
  { name: "my-requests", path: "/requests" },
  { name: "approve-requests", path: "/approvals" },
  { name: "review-access", path: "/reviews" },
  { name: "manage-users", path: "/manage/users" },
  { name: "manage-groups", path: "/manage/groups" },
  { name: "manage-roles", path: "/manage/roles" },
  { name: "manage-assignments", path: "/manage/assignments" },
  { name: "manage-settings", path: "/manage/settings" },
  { name: "manage-alerts", path: "/manage/alerts" },
  { name: "manage-reviews", path: "/manage/reviews" },
  { name: "manage-audiences", path: "/manage/audiences" },
  { name: "audit", path: "/audit" },
  { name: "error-not-found", path: "/no-such-page", status: 404 },
  // The OpenID Connect callback's refusal (here: no binding cookie), signed out.
  { name: "oidc-refused", path: "/portal/oidc/corp/callback?code=x&state=y", signedOut: true, status: 401 },
];

// Detail pages: [name, a list page, the links to follow from it in turn (CSS selectors)].
const DETAIL_PAGES = [
  ["manage-user", "/manage/users", ['main a[href^="/manage/users/"]']],
  ["manage-group", "/manage/groups", ['main a[href^="/manage/groups/"]']],
  ["manage-role", "/manage/roles", ['main a[href^="/manage/roles/"]']],
  ["manage-review-new", "/manage/reviews", ['main a[href="/manage/reviews/new"]']],
  ["manage-review", "/manage/reviews", ['main a[href^="/manage/reviews/"]:not([href$="/new"])']],
  [
    "manage-review-instance",
    "/manage/reviews",
    ['main a[href^="/manage/reviews/"]:not([href$="/new"])', 'main a[href^="/manage/review-instances/"]'],
  ],
];

// Pages still being built: a 404 there is reported as missing instead of failing (e.g. add
// "/audit" while the Audit page does not exist yet). Every page of PAGES exists now, so a 404
// anywhere fails.
const STILL_BEING_BUILT = new Set([]);

const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const BLOCKING_IMPACTS = new Set(["serious", "critical"]);

// ------------------------------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) over node:crypto.

function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const clean = text.replace(/[\s=-]/g, "").toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${JSON.stringify(text)}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function hotp(key, counter) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", key).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(n % 1_000_000).padStart(6, "0");
}

// An authenticator app: each code it gives is of a later time step than the one before (pim
// refuses a code used once), within the step before or after now that pim accepts.
class Authenticator {
  constructor(secretBase32) {
    this.key = base32Decode(secretBase32);
    this.lastStep = -1;
  }
  static step() {
    return Math.floor(Date.now() / 1000 / 30);
  }
  async code() {
    let step = Math.max(this.lastStep + 1, Authenticator.step());
    // pim accepts the next step too; later than that, wait for the clock.
    while (step > Authenticator.step() + 1) {
      await new Promise((r) => setTimeout(r, 250));
    }
    this.lastStep = step;
    return hotp(this.key, step);
  }
}

// The RFC 6238 test vector (SHA-1, T = 59 s): the implementation above is right.
{
  const key = Buffer.from("12345678901234567890", "ascii");
  if (hotp(key, 1) !== "287082") throw new Error("the TOTP implementation is wrong");
}

// ------------------------------------------------------------------------------------------------
// What is checked and reported.

const failures = [];
const notes = [];
const missingPages = [];
const axeReport = [];
let shotCount = 0;

class ContractError extends Error {}

function log(line) {
  process.stdout.write(`${line}\n`);
}

async function describePage(page) {
  try {
    const h1 = (await page.locator("h1").first().textContent({ timeout: 1000 }))?.trim();
    const main = await page.locator("main").first().innerText({ timeout: 1000 }).catch(() => "");
    const body = main || (await page.locator("body").innerText({ timeout: 1000 }).catch(() => ""));
    const text = body.replace(/\s+/g, " ").trim().slice(0, 600);
    return `the page at ${page.url()} (status ${lastStatus(page) ?? "?"}) showed: h1 ${JSON.stringify(h1)}; ${JSON.stringify(text)}`;
  } catch (e) {
    return `the page at ${page.url()} could not be read (${e.message.split("\n")[0]})`;
  }
}

async function shot(page, name) {
  shotCount += 1;
  const file = path.join(SHOTS, `${String(shotCount).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// One step of the flow: timed; on failure the page's screenshot and what it showed are kept.
async function step(page, name, fn) {
  const started = Date.now();
  try {
    const r = await fn();
    const ms = Date.now() - started;
    log(`  ok   ${name} (${(ms / 1000).toFixed(1)} s)`);
    return r;
  } catch (e) {
    const file = await shot(page, `FAILED-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`).catch(() => "");
    const what = await describePage(page);
    log(`  FAIL ${name}`);
    throw new ContractError(`${name}: ${e.message.split("\n")[0]}\n    ${what}${file ? `\n    screenshot: ${file}` : ""}`);
  }
}

// ------------------------------------------------------------------------------------------------
// Pages: the status of the last document, the CSP on every page, console CSP violations.

const lastDocument = new WeakMap();

function lastStatus(page) {
  return lastDocument.get(page)?.status;
}

function watch(page, who) {
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on("response", (r) => {
    const req = r.request();
    let mainFrame = false;
    try {
      mainFrame = req.resourceType() === "document" && req.frame() === page.mainFrame();
    } catch {
      return;
    }
    if (!mainFrame || (r.status() >= 300 && r.status() < 400)) return;
    lastDocument.set(page, { url: r.url(), status: r.status() });
    // The identity provider's own pages are not pim's to check.
    if (new URL(r.url()).origin !== new URL(BASE).origin) return;
    const type = r.headers()["content-type"] || "";
    if (!type.startsWith("text/html")) return;
    const csp = r.headers()["content-security-policy"];
    if (!csp) {
      failures.push(`CSP: ${req.method()} ${r.url()} (${who}) has no Content-Security-Policy header`);
    } else if (!/script-src 'self'/.test(csp) || /unsafe-inline|unsafe-eval/.test(csp)) {
      failures.push(`CSP: ${req.method()} ${r.url()} (${who}) has a weak policy: ${csp}`);
    }
  });
  page.on("console", (m) => {
    const text = m.text();
    if (/Content Security Policy|Refused to (execute|load|apply|frame|connect)/i.test(text)) {
      failures.push(`CSP violation in the console at ${page.url()} (${who}): ${text}`);
    } else if (m.type() === "error" && !/status of 4\d\d/.test(text)) {
      notes.push(`console error at ${page.url()} (${who}): ${text}`);
    }
  });
  page.on("pageerror", (e) => failures.push(`script error at ${page.url()} (${who}): ${e.message}`));
  // pim.js asks before some buttons (data-confirm): accept, as a person who means it would.
  page.on("dialog", (d) => d.accept());
  return page;
}

// The page's status must be one of `ok` (after a navigation).
async function expectStatus(page, ok = [200]) {
  const status = lastStatus(page);
  if (!ok.includes(status)) {
    throw new Error(`expected status ${ok.join(" or ")}, got ${status}`);
  }
}

// Clicks what sends a form or follows a link, and waits for the next page to be shown.
async function submit(page, clickable) {
  const previous = lastDocument.get(page);
  await Promise.all([page.waitForEvent("framenavigated", (f) => f === page.mainFrame()), clickable.click()]);
  await page.waitForLoadState("domcontentloaded");
  if (lastDocument.get(page) === previous) {
    throw new Error("the click did not lead to a new page");
  }
  await page.locator("main h1").first().waitFor();
}

async function heading(page, text) {
  const h1 = page.locator("main h1").first();
  await h1.waitFor();
  const got = (await h1.textContent()).trim();
  if (typeof text === "string" ? got !== text : !text.test(got)) {
    throw new Error(`expected the heading ${text}, got ${JSON.stringify(got)}`);
  }
}

async function mainText(page) {
  return (await page.locator("main").first().innerText()).replace(/\s+/g, " ");
}

async function mustShow(page, ...needles) {
  const text = await mainText(page);
  for (const n of needles) {
    const found = typeof n === "string" ? text.includes(n) : n.test(text);
    if (!found) throw new Error(`the page does not show ${n}`);
  }
  return text;
}

// The one-time message at the top of a page (role=status for success, role=alert for errors).
async function flash(page, kind) {
  const role = kind === "error" ? "alert" : "status";
  const f = page.locator(`main [role="${role}"]`).first();
  await f.waitFor();
  return (await f.innerText()).trim();
}

async function signIn(page, who, code) {
  await page.goto(`${BASE}/signin`);
  await expectStatus(page);
  await heading(page, "Sign in");
  await page.locator("#username").fill(who.name);
  await page.locator("#password").fill(who.password);
  if (code) await page.locator('form[action="/signin"] input[name="code"]').fill(code);
  await submit(page, page.getByRole("button", { name: "Sign in" }));
  if (/\/signin/.test(new URL(page.url()).pathname)) {
    throw new Error(`${who.name} could not sign in: ${await mainText(page)}`);
  }
}

async function menu(page, label) {
  await submit(page, page.locator("header nav").getByRole("link", { name: label, exact: true }));
}

// ------------------------------------------------------------------------------------------------
// A small CSV parser (RFC 4180: quotes, doubled quotes, commas and newlines inside quotes).

function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else {
      cell += c;
    }
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

// ------------------------------------------------------------------------------------------------
// 1. The flow.

async function flow(browser) {
  const contexts = [];
  const newPage = async (who) => {
    const ctx = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
    contexts.push(ctx);
    return watch(await ctx.newPage(), who);
  };
  try {
    // The eligible user.
    const u = await newPage(USER.name);
    await step(u, "the sign-in page", async () => {
      await u.goto(`${BASE}/`);
      await expectStatus(u);
      await heading(u, "Sign in");
      await shot(u, "signin");
    });
    await step(u, "a sign-in link with a hostile next= stays on pim", async () => {
      // Each trick would send a browser to another site if pim redirected to it as sent.
      const tricks = ["//evil.example", "/\\evil.example", "/%09/evil.example", "/%0a/evil.example",
        "\\\\evil.example", "/%2f%2fevil.example", "https:evil.example", "javascript:alert(1)",
        "https://evil.example/", "/%5cevil.example"];
      const probe = await newPage(USER.name);
      const home = new URL(BASE).origin;
      const stayed = async (trick) => {
        const at = new URL(probe.url());
        if (at.origin !== home || at.pathname !== "/roles") {
          throw new Error(`next=${trick} led the browser to ${probe.url()}`);
        }
      };
      // Signing in through the link the issue found (a tab once decoded) lands on My roles.
      await probe.goto(`${BASE}/signin?next=/%09/evil.example`);
      await probe.locator("#username").fill(USER.name);
      await probe.locator("#password").fill(USER.password);
      await submit(probe, probe.getByRole("button", { name: "Sign in" }));
      await stayed("/%09/evil.example");
      // Signed in, the sign-in page sends the browser on to next= at once, by the same rule.
      // Sent as an attacker writes them, and encoded once more (a literal %09).
      for (const trick of tricks.flatMap((t) => [t, encodeURIComponent(t)])) {
        await probe.goto(`${BASE}/signin?next=${trick}`);
        await stayed(trick);
      }
      // A same-origin path is followed.
      await probe.goto(`${BASE}/signin?next=${encodeURIComponent("/requests")}`);
      if (new URL(probe.url()).pathname !== "/requests") throw new Error(`next=/requests led to ${probe.url()}`);
    });
    await step(u, `${USER.name} signs in with a password`, async () => {
      await signIn(u, USER);
      await heading(u, "My roles");
      await mustShow(u, ROLE);
      await shot(u, "my-roles-before-mfa");
    });
    let auth;
    await step(u, `${USER.name} sets up an authenticator on Security`, async () => {
      await submit(u, u.locator("header").getByRole("link", { name: "Security" }));
      await heading(u, "Security");
      await shot(u, "security");
      await submit(u, u.getByRole("button", { name: /set up/i }));
      await heading(u, /authenticator/i);
      const secret = (await u.locator("#totp-secret").innerText()).trim();
      if (!/^[A-Z2-7 ]{16,}$/.test(secret)) throw new Error(`no TOTP secret shown: ${JSON.stringify(secret)}`);
      auth = new Authenticator(secret);
      await shot(u, "security-enroll");
      await u.getByLabel("Code", { exact: true }).fill(await auth.code());
      await submit(u, u.getByRole("button", { name: "Confirm" }));
      await heading(u, /recovery codes/i);
      await expectStatus(u);
      const codes = await u.locator("#recovery-codes li").count();
      if (codes < 5) throw new Error(`expected the recovery codes, saw ${codes}`);
      await flash(u, "ok");
      await shot(u, "security-recovery-codes");
    });
    await step(u, `${USER.name} signs out`, async () => {
      await submit(u, u.locator("header").getByRole("button", { name: "Sign out" }));
      await heading(u, "Sign in");
      const said = await flash(u, "ok");
      if (!/signed out/i.test(said)) throw new Error(`the sign-in page says ${JSON.stringify(said)}`);
      await shot(u, "signed-out");
      // The session ended on the server: My roles asks to sign in again.
      await u.goto(`${BASE}/roles`);
      await heading(u, "Sign in");
    });
    await step(u, `${USER.name} signs in with a password and a TOTP code`, async () => {
      await signIn(u, USER, await auth.code());
      await heading(u, "My roles");
      await shot(u, "my-roles");
    });

    const form = () => u.locator("details", { hasText: `Activate ${ROLE} at ${ELIGIBLE_SCOPE}` }).first();
    await step(u, "Check shows what the activation still needs", async () => {
      const f = form();
      if (!(await f.evaluate((d) => d.open))) await f.locator("summary").click();
      await f.getByLabel("Scope").fill(ACTIVATE_SCOPE);
      await submit(u, f.getByRole("button", { name: "Check" }));
      await expectStatus(u, [200, 422]);
      const feedback = form().locator('[role="alert"], [role="status"]').first();
      await feedback.waitFor();
      const said = (await feedback.innerText()).replace(/\s+/g, " ");
      if (!/justification/i.test(said)) {
        throw new Error(`the check should ask for a justification, it says ${JSON.stringify(said)}`);
      }
      log(`       Check said: ${said}`);
      await shot(u, "my-roles-check-needs");
    });
    await step(u, "Check with a justification and a ticket passes", async () => {
      const f = form();
      await f.getByLabel("Justification").fill(JUSTIFICATION);
      await f.getByLabel("Ticket system").fill(TICKET.system);
      await f.getByLabel("Ticket number").fill(TICKET.number);
      await f.getByLabel("Duration").selectOption({ label: "1 hour" });
      await submit(u, f.getByRole("button", { name: "Check" }));
      await expectStatus(u);
      const said = (await form().locator('[role="status"]').first().innerText()).replace(/\s+/g, " ");
      if (!/approv/i.test(said)) throw new Error(`the check should say it waits for approval: ${JSON.stringify(said)}`);
      await shot(u, "my-roles-check-ok");
    });
    let requestId;
    await step(u, `${USER.name} activates ${ROLE}: it waits for approval on My requests`, async () => {
      // The values typed are kept by the check; activate, with a new code if MFA is asked again.
      await submit(u, form().getByRole("button", { name: "Activate" }));
      if (new URL(u.url()).pathname === "/roles/activate" || lastStatus(u) === 422) {
        const said = await form().locator('[role="alert"]').first().innerText();
        if (!/MFA|code/i.test(said)) throw new Error(`the activation was refused: ${said}`);
        await form().getByLabel("Authenticator code").fill(await auth.code());
        await submit(u, form().getByRole("button", { name: "Activate" }));
      }
      await expectStatus(u);
      await heading(u, "My requests");
      const said = await flash(u, "ok");
      if (!/approval/i.test(said)) throw new Error(`the message should say it waits for approval: ${said}`);
      requestId = said.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/)?.[0];
      const row = u.locator("main tr", { hasText: JUSTIFICATION }).first();
      await row.waitFor();
      const text = (await row.innerText()).replace(/\s+/g, " ");
      for (const n of [ROLE, ACTIVATE_SCOPE, TICKET.number]) {
        if (!text.includes(n)) throw new Error(`the request's row does not show ${n}: ${text}`);
      }
      if (!/pending/i.test(text)) throw new Error(`the request's row does not show it pending: ${text}`);
      await shot(u, "my-requests-pending");
    });

    // The approver, in a second browser context.
    const a = await newPage(APPROVER.name);
    await step(a, `${APPROVER.name} signs in and opens Approve requests`, async () => {
      await signIn(a, APPROVER);
      await menu(a, "Approve requests");
      await heading(a, "Approve requests");
      await expectStatus(a);
      const row = a.locator("main tr", { hasText: JUSTIFICATION }).first();
      await row.waitFor();
      const text = (await row.innerText()).replace(/\s+/g, " ");
      for (const n of [USER.name, ROLE, ACTIVATE_SCOPE, JUSTIFICATION, TICKET.number]) {
        if (!text.toLowerCase().includes(n.toLowerCase())) {
          throw new Error(`the request's row does not show ${n}: ${text}`);
        }
      }
      await shot(a, "approvals");
    });
    await step(a, `${APPROVER.name} approves it with a justification`, async () => {
      const row = a.locator("main tr", { hasText: JUSTIFICATION }).first();
      const box = requestId
        ? a.locator(`input[name="request_id"][value="${requestId}"]`)
        : row.locator('input[name="request_id"]');
      if ((await box.getAttribute("type")) === "checkbox") await box.check();
      const f = a.locator('form[action="/approvals"]').filter({ has: box }).first();
      await f.locator('[name="justification"]').fill(APPROVAL_JUSTIFICATION);
      await submit(a, f.locator('button[name="verdict"][value="approve"]'));
      await expectStatus(a);
      await heading(a, "Approve requests");
      const said = await flash(a, "ok");
      if (!/approv|provision/i.test(said)) throw new Error(`the message does not say it was approved: ${said}`);
      if ((await a.locator("main tr", { hasText: JUSTIFICATION }).count()) > 0) {
        throw new Error("the approved request is still listed as waiting");
      }
      await shot(a, "approvals-approved");
    });

    // The user sees the role active.
    await step(u, `${USER.name} sees ${ROLE} active on My roles`, async () => {
      await u.goto(`${BASE}/roles`);
      await expectStatus(u);
      await heading(u, "My roles");
      const active = u.locator("section", { has: u.locator("h2", { hasText: "Active roles" }) });
      const row = active.locator("tr", { hasText: ROLE }).first();
      await row.waitFor();
      const text = (await row.innerText()).replace(/\s+/g, " ");
      if (!text.includes(ACTIVATE_SCOPE)) throw new Error(`the active row does not show ${ACTIVATE_SCOPE}: ${text}`);
      await row.getByRole("button", { name: "Deactivate" }).waitFor();
      await shot(u, "my-roles-active");
      if (README_SHOT) {
        // The README's picture, 1280 pixels wide: the eligible role with its activation form open,
        // and the active one.
        const f = form();
        if (!(await f.evaluate((d) => d.open))) await f.locator("summary").click();
        await u.mouse.move(0, 0);
        const file = path.resolve(README_SHOT);
        mkdirSync(path.dirname(file), { recursive: true });
        await u.screenshot({ path: file, fullPage: true });
        notes.push(`the README screenshot was written to ${file}`);
        await f.locator("summary").click();
      }
    });

    // The administrator, in a third context: the audit page and its CSV.
    const ad = await newPage(ADMIN.name);
    await step(ad, `${ADMIN.name} sees the request and the approval on Audit`, async () => {
      await signIn(ad, ADMIN);
      await menu(ad, "Audit");
      await heading(ad, /^Audit/);
      await expectStatus(ad);
      await mustShow(ad, "request.selfActivate", "request.approve");
      await shot(ad, "audit");
    });
    await step(ad, "the audit page filters by action", async () => {
      const f = ad.locator('main form:has([name="action"])').first();
      const field = f.locator('[name="action"]');
      if ((await field.evaluate((e) => e.tagName)) === "SELECT") {
        const values = await field.locator("option").evaluateAll((os) => os.map((o) => o.value));
        const v = values.find((x) => x === "request.approve") ?? values.find((x) => x.startsWith("request"));
        if (!v) throw new Error(`the action filter offers no request action: ${values.join(", ")}`);
        await field.selectOption(v);
      } else {
        await field.fill("request.");
      }
      await submit(ad, f.locator('button[type="submit"], button:not([type]), input[type="submit"]').first());
      await expectStatus(ad);
      if (!new URL(ad.url()).searchParams.get("action")) throw new Error(`the filter is not in the address: ${ad.url()}`);
      const text = await mustShow(ad, "request.approve", APPROVAL_JUSTIFICATION);
      const rows = await ad.locator("main table tbody tr").allInnerTexts();
      const others = rows.filter((r) => /\b(auth\.signIn|mfa\.confirm|role\.create)\b/.test(r));
      if (others.length) throw new Error(`filtered by action, it still lists: ${others[0].replace(/\s+/g, " ")}`);
      if (!text.includes(USER.name) && !text.includes(APPROVER.name)) throw new Error("no actor is shown");
      await shot(ad, "audit-filtered");
    });
    await step(ad, "the audit CSV downloads with its header and the approval", async () => {
      const link = ad.locator('main a[href*="/audit/export"][href*="format=csv"]').first();
      const control = (await link.count())
        ? link
        : ad
            .locator('main form[action*="/audit/export"]')
            .locator('button[value="csv"], input[type="submit"][value="csv" i], button:has-text("CSV")')
            .first();
      const [download] = await Promise.all([ad.waitForEvent("download"), control.click()]);
      const file = path.join(SHOTS, "audit.csv");
      await download.saveAs(file);
      const text = readFileSync(file, "utf8");
      const rows = parseCsv(text.replace(/^\uFEFF/, ""));
      const header = rows[0]?.join(",");
      if (header !== AUDIT_CSV_HEADER) throw new Error(`the CSV's header is ${JSON.stringify(header)}`);
      const col = Object.fromEntries(rows[0].map((name, i) => [name, i]));
      const approval = rows.find(
        (r) => r[col.action] === "request.approve" && r[col.justification] === APPROVAL_JUSTIFICATION,
      );
      if (!approval) throw new Error(`the CSV (${rows.length - 1} rows) has no request.approve row with the approver's justification`);
      if (approval[col.actorName] !== APPROVER.name) throw new Error(`the approval's actor is ${approval[col.actorName]}`);
      if (approval[col.outcome] !== "success") throw new Error(`the approval's outcome is ${approval[col.outcome]}`);
      if (rows.slice(1).some((r) => r.length > 1 && !r[col.action].startsWith("request."))) {
        notes.push("the audit CSV downloaded from the filtered page holds events of other actions too");
      }
      log(`       the CSV has ${rows.length - 1} events, the approval by ${approval[col.actorName]} among them`);
    });
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
  }
}

// ------------------------------------------------------------------------------------------------
// 1b. Signing in with the identity provider, and stepping up there.

// Chooses whom the provider's next interaction signs in, and with which `amr`.
async function idpNext(sub, claims, amr, hold = false) {
  const r = await fetch(`${IDP}/test/next`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub, claims, amr, hold }),
  });
  if (r.status !== 204) throw new Error(`the provider's test hook answered ${r.status}`);
}

// Clicks "Sign in with Contoso" and waits until the browser is back at pim at `until` (a path).
async function signInWithIdp(page, until) {
  await page.goto(`${BASE}/signin`);
  await heading(page, "Sign in");
  await page.getByRole("link", { name: "Sign in with Contoso" }).click();
  await page.waitForURL((u) => u.origin === new URL(BASE).origin && u.pathname.startsWith(until));
  await page.locator("main h1").first().waitFor();
}

async function sessionCookie(page) {
  return (await page.context().cookies(BASE)).find((c) => /pim_session$/.test(c.name));
}

async function oidcFlow(browser) {
  const contexts = [];
  const newPage = async (who, options = {}) => {
    const ctx = await browser.newContext({ viewport: VIEWPORT, ...options });
    contexts.push(ctx);
    return watch(await ctx.newPage(), who);
  };
  const form = (page) => page.locator("details", { hasText: `Activate ${OIDC_ROLE} at /prod` }).first();
  const open = async (page) => {
    const f = form(page);
    if (!(await f.evaluate((d) => d.open))) await f.locator("summary").click();
    return f;
  };
  // Activate, which goes to Contoso and back to pim's callback: what the callback shows.
  const activateThroughIdp = async (page, justification) => {
    await page.goto(`${BASE}/roles`);
    const f = await open(page);
    await f.getByLabel("Justification").fill(justification);
    await f.getByLabel("Duration").selectOption({ label: "2 hours" });
    await f.getByRole("button", { name: "Activate" }).click();
    await page.waitForURL((u) => u.pathname === "/portal/oidc/corp/callback");
    await page.locator("main h1").first().waitFor();
  };
  try {
    const o = await newPage(`${OIDC_USER} (OIDC)`);
    await step(o, `${OIDC_USER} signs in with Contoso and lands on My roles`, async () => {
      await idpNext(`sub-${OIDC_USER}`, OIDC_CLAIMS, ["pwd"]);
      await signInWithIdp(o, "/roles");
      await heading(o, "My roles");
      await mustShow(o, OIDC_ROLE, "You signed in through Contoso");
      await shot(o, "oidc-my-roles");
    });
    await step(o, "the session cookie is a strict __Host- cookie; the binding cookie is gone", async () => {
      const cookies = await o.context().cookies(BASE);
      const c = cookies.find((x) => x.name === "__Host-pim_session");
      if (!c) throw new Error(`no __Host-pim_session cookie: ${cookies.map((x) => x.name).join(", ")}`);
      const flags = { httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite, path: c.path };
      const want = { httpOnly: true, secure: true, sameSite: "Strict", path: "/" };
      if (JSON.stringify(flags) !== JSON.stringify(want)) throw new Error(`its flags are ${JSON.stringify(flags)}`);
      if (c.domain.startsWith(".")) throw new Error(`it names a domain: ${c.domain}`);
      if (cookies.some((x) => /pim_oidc$/.test(x.name))) throw new Error("the binding cookie is still set");
    });
    await step(o, "a form with the session's anti-forgery token works; a forged one is refused", async () => {
      let f = await open(o);
      await f.getByLabel("Justification").fill("INC-7: checking");
      await submit(o, f.getByRole("button", { name: "Check" }));
      await expectStatus(o, [200, 422]);
      const said = (await form(o).locator('[role="alert"], [role="status"]').first().innerText()).replace(/\s+/g, " ");
      if (!/sends you to Contoso/.test(said)) throw new Error(`the check should name the step-up: ${JSON.stringify(said)}`);
      f = await open(o);
      await f.locator('input[name="csrf"]').evaluate((e) => { e.value = "forged"; });
      await submit(o, f.getByRole("button", { name: "Check" }));
      await expectStatus(o, [403]);
      await mustShow(o, "did not come from this pim");
    });
    await step(o, "step-up at Contoso without MFA: refused, the session unchanged", async () => {
      const before = await sessionCookie(o);
      await idpNext(`sub-${OIDC_USER}`, OIDC_CLAIMS, ["pwd"]);
      await activateThroughIdp(o, "INC-8: no MFA");
      await expectStatus(o, [422]);
      await mustShow(o, "did not report MFA", "unchanged");
      await shot(o, "oidc-step-up-no-mfa");
      if ((await sessionCookie(o))?.value !== before?.value) throw new Error("the session cookie changed");
      await o.goto(`${BASE}/roles`);
      await heading(o, "My roles");
    });
    await step(o, "step-up as another account at Contoso: refused", async () => {
      await idpNext("sub-mallory", { preferred_username: "mallory" }, ["pwd", "mfa"]);
      await activateThroughIdp(o, "INC-8: someone else");
      await expectStatus(o, [403]);
      await mustShow(o, "another account", "unchanged");
      await shot(o, "oidc-step-up-other-account");
    });
    const J = "INC-9: the orders queue is stuck";
    await step(o, "step-up with MFA: back on the form as typed, then activated", async () => {
      await idpNext(`sub-${OIDC_USER}`, OIDC_CLAIMS, ["pwd", "mfa"]);
      await o.goto(`${BASE}/roles`);
      const f = await open(o);
      await f.getByLabel("Justification").fill(J);
      await f.getByLabel("Duration").selectOption({ label: "2 hours" });
      await f.getByRole("button", { name: "Activate" }).click();
      await o.waitForURL((u) => u.pathname === "/roles" && u.searchParams.has("eligibility"));
      await heading(o, "My roles");
      const back = form(o);
      if (!(await back.evaluate((d) => d.open))) throw new Error("the activation form is not open");
      const kept = await back.getByLabel("Justification").inputValue();
      if (kept !== J) throw new Error(`the justification typed was not kept: ${JSON.stringify(kept)}`);
      const duration = await back.getByLabel("Duration").inputValue();
      if (duration !== "120") throw new Error(`the duration typed was not kept: ${duration}`);
      const said = (await back.locator('[role="status"]').first().innerText()).replace(/\s+/g, " ");
      if (!/passed MFA/.test(said)) throw new Error(`the form should say MFA passed: ${JSON.stringify(said)}`);
      await shot(o, "oidc-step-up-back-on-the-form");
      await submit(o, back.getByRole("button", { name: "Activate" }));
      await expectStatus(o);
      const ok = await flash(o, "ok");
      if (!/is active/.test(ok)) throw new Error(`the activation says ${JSON.stringify(ok)}`);
      const active = o.locator("section", { has: o.locator("h2", { hasText: "Active roles" }) });
      await active.locator("tr", { hasText: OIDC_ROLE }).first().waitFor();
      await shot(o, "oidc-activated");
    });
    await step(o, "axe: the step-up page and the page after it", async () => {
      // A context of its own (bypassCSP, for axe): a new session without MFA. The provider's
      // authorization request, and then My roles, are answered 204 (a navigation to a 204 does not
      // leave the page), so that each page stays to be scanned.
      const x = await newPage(`${OIDC_USER} (axe)`, { bypassCSP: true });
      await idpNext(`sub-${OIDC_USER}`, OIDC_CLAIMS, ["pwd"]);
      await signInWithIdp(x, "/roles");
      await idpNext(`sub-${OIDC_USER}`, OIDC_CLAIMS, ["pwd", "mfa"]);
      const toIdp = (u) => u.href.startsWith(IDP) && u.searchParams.get("max_age") === "0";
      const toForm = (u) => u.origin === new URL(BASE).origin && u.pathname === "/roles" && u.searchParams.has("eligibility");
      // Answers navigations to `pattern` with 204; resolves (as `{ seen }`) when one was answered.
      const held = async (pattern) => {
        await x.route(pattern, (r) => r.fulfill({ status: 204 }));
        return { seen: x.waitForResponse((r) => pattern(new URL(r.url()))) };
      };
      await x.goto(`${BASE}/roles`);
      await (await open(x)).getByLabel("Justification").fill("INC-10: axe");
      let stopped = await held(toIdp);
      await (await open(x)).getByRole("button", { name: "Activate" }).click();
      await stopped.seen;
      await heading(x, /^Pass MFA at Contoso/);
      const onward = await x.locator("#continue").getAttribute("href");
      await axeScan(x, "oidc-step-up");
      await x.unrouteAll();
      stopped = await held(toForm);
      await x.goto(onward);
      await stopped.seen;
      await heading(x, /^MFA passed at Contoso/);
      await axeScan(x, "oidc-mfa-passed");
    });

    const p = await newPage("a browser with a forged state");
    await step(p, "a callback with a forged state: a refusal page, no session", async () => {
      // The sign-in is begun in this browser (its binding cookie set) and held at the provider;
      // then pim's callback gets a state pim never issued.
      await idpNext(`sub-${OIDC_USER}`, OIDC_CLAIMS, ["pwd"], true);
      await p.goto(`${BASE}/signin`);
      await p.getByRole("link", { name: "Sign in with Contoso" }).click();
      await p.waitForURL((u) => u.href.startsWith(IDP) && u.pathname.startsWith("/interaction/"));
      await idpNext(`sub-${OIDC_USER}`, OIDC_CLAIMS, ["pwd"]);
      if (!(await p.context().cookies(BASE)).some((c) => /pim_oidc$/.test(c.name))) {
        throw new Error("no binding cookie was set by the begun sign-in");
      }
      await p.goto(`${BASE}/portal/oidc/corp/callback?code=a-code&state=forged-state`);
      await expectStatus(p, [401]);
      await mustShow(p, "start again");
      await shot(p, "oidc-forged-state");
      if (await sessionCookie(p)) throw new Error("a session cookie was set");
      await p.goto(`${BASE}/roles`);
      await heading(p, "Sign in");
    });

    const ad = await newPage(ADMIN.name);
    await step(ad, `${ADMIN.name} disables ${OIDC_USER}`, async () => {
      await signIn(ad, ADMIN);
      await ad.goto(`${BASE}/manage/users`);
      await submit(ad, ad.locator("main a", { hasText: new RegExp(`^${OIDC_USER}$`) }).first());
      const edit = ad.locator("details", { hasText: `Edit ${OIDC_USER}` }).first();
      if (!(await edit.evaluate((d) => d.open))) await edit.locator("summary").click();
      await edit.locator('input[name="enabled"]').uncheck();
      await submit(ad, edit.getByRole("button", { name: "Save user" }));
      await expectStatus(ad);
      await mustShow(ad, "disabled");
    });
    const d = await newPage(`${OIDC_USER} (disabled)`);
    await step(d, `disabled, ${OIDC_USER} is refused with a clear message`, async () => {
      await idpNext(`sub-${OIDC_USER}`, OIDC_CLAIMS, ["pwd", "mfa"]);
      await signInWithIdp(d, "/portal/oidc/corp/callback");
      await expectStatus(d, [409]);
      await mustShow(d, `${OIDC_USER} is disabled`);
      await shot(d, "oidc-disabled");
      if (await sessionCookie(d)) throw new Error("a session cookie was set");
    });
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
  }
}

// ------------------------------------------------------------------------------------------------
// 2. axe-core on every page.

// Runs `fn`; a failure is recorded and the next page is scanned all the same.
async function soft(fn) {
  try {
    await fn();
  } catch (e) {
    failures.push(e instanceof ContractError ? e.message : `${e.stack}`);
  }
}

async function axeScan(page, name) {
  // Open every <details> so that the forms inside are checked too.
  await page.evaluate(() => {
    for (const d of document.querySelectorAll("details")) d.open = true;
  });
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] }),
    AXE_TAGS,
  );
  if (!result.passes.length) failures.push(`axe on ${name} (${page.url()}): no rule ran`);
  const blocking = result.violations.filter((v) => BLOCKING_IMPACTS.has(v.impact));
  const other = result.violations.filter((v) => !BLOCKING_IMPACTS.has(v.impact));
  axeReport.push({ name, url: page.url(), blocking, other });
  for (const v of blocking) {
    const targets = v.nodes.map((n) => n.target.join(" ")).slice(0, 8);
    failures.push(
      `axe on ${name} (${page.url()}): ${v.impact} ${v.id}: ${v.help} (${v.helpUrl})\n      at ${targets.join("\n      at ")}`,
    );
  }
  await shot(page, `axe-${name}`);
  const summary = blocking.length
    ? `${blocking.length} serious or critical: ${blocking.map((v) => v.id).join(", ")}`
    : "no serious or critical violation";
  const rest = other.length ? `; also ${other.map((v) => `${v.impact} ${v.id}`).join(", ")}` : "";
  log(`  axe  ${name}: ${summary}${rest} (${result.passes.length} rules passed)`);
}

async function accessibility(browser) {
  const ctx = await browser.newContext({ viewport: VIEWPORT, bypassCSP: true });
  try {
    const page = watch(await ctx.newPage(), `${ADMIN.name} (axe)`);
    for (const p of PAGES.filter((p) => p.signedOut)) {
      await step(page, `axe: ${p.name} (signed out)`, async () => {
        await page.goto(BASE + p.path);
        await expectStatus(page, [p.status ?? 200]);
        await axeScan(page, p.name);
      });
    }
    // The flow signs in through the form; here the session comes from the same form sent by
    // Playwright's request client (sharing the context's cookies), so that the pages are scanned
    // even when signing in through the browser fails.
    await step(page, `axe: ${ADMIN.name} signs in`, async () => {
      const form = await ctx.request.get(`${BASE}/signin`);
      const csrf = (await form.text()).match(/name="csrf" value="([^"]+)"/)?.[1];
      if (!csrf) throw new Error("the sign-in page has no csrf field");
      const sent = await ctx.request.post(`${BASE}/signin`, {
        form: { csrf, next: "/roles", username: ADMIN.name, password: ADMIN.password, code: "" },
        maxRedirects: 0,
      });
      if (sent.status() !== 303) throw new Error(`signing in answered ${sent.status()}`);
      await page.goto(`${BASE}/roles`);
      await heading(page, "My roles");
    });
    for (const p of PAGES.filter((p) => !p.signedOut)) {
      await soft(() =>
        step(page, `axe: ${p.name}`, async () => {
          await page.goto(BASE + p.path);
          const status = lastStatus(page);
          if (status === 404 && (p.status ?? 200) !== 404 && STILL_BEING_BUILT.has(p.path)) {
            missingPages.push(`${p.path} (${p.name})`);
            log(`       ${p.path} answers 404: not built yet, reported as missing`);
            return;
          }
          await expectStatus(page, [p.status ?? 200]);
          await page.locator("main h1").first().waitFor();
          await axeScan(page, p.name);
        }),
      );
    }
    // Detail pages, reached through the first link of their kind on a list page.
    for (const [name, list, links] of DETAIL_PAGES) {
      await soft(() =>
        step(page, `axe: ${name}`, async () => {
          await page.goto(BASE + list);
          await expectStatus(page);
          for (const selector of links) {
            const link = page.locator(selector).first();
            await link.waitFor();
            await page.goto(BASE + (await link.getAttribute("href")));
            await expectStatus(page);
          }
          await page.locator("main h1").first().waitFor();
          await axeScan(page, name);
        }),
      );
    }
    // Pages that are the answer of a form: the activation check, setting up an authenticator.
    await soft(() =>
      step(page, "axe: my-roles after Check", async () => {
        await page.goto(`${BASE}/roles`);
        const f = page.locator("details").first();
        await f.waitFor();
        await f.evaluate((d) => (d.open = true));
        await submit(page, f.getByRole("button", { name: "Check" }));
        await expectStatus(page, [200, 422]);
        await heading(page, "My roles");
        await axeScan(page, "my-roles-check");
      }),
    );
    await soft(() =>
      step(page, "axe: security, setting up an authenticator", async () => {
        await page.goto(`${BASE}/mfa`);
        await submit(page, page.getByRole("button", { name: /set up/i }));
        await expectStatus(page);
        await axeScan(page, "security-enroll");
        const admin = new Authenticator((await page.locator("#totp-secret").innerText()).trim());
        await page.getByLabel("Code", { exact: true }).fill(await admin.code());
        await submit(page, page.getByRole("button", { name: "Confirm" }));
        await expectStatus(page);
        await axeScan(page, "security-recovery-codes");
      }),
    );
  } finally {
    await ctx.close().catch(() => {});
  }
}

// ------------------------------------------------------------------------------------------------

async function main() {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  const started = Date.now();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // This machine's closed network refuses Chromium's background connections: ask for none.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  log(`pim portal browser test against ${BASE} (Chromium ${browser.version()})`);
  try {
    log("The flow:");
    const t1 = Date.now();
    try {
      await flow(browser);
    } catch (e) {
      failures.push(e instanceof ContractError ? e.message : `${e.stack}`);
    }
    log(`  (the flow took ${((Date.now() - t1) / 1000).toFixed(1)} s)`);
    if (IDP) {
      log("Signing in with the identity provider:");
      const t = Date.now();
      try {
        await oidcFlow(browser);
      } catch (e) {
        failures.push(e instanceof ContractError ? e.message : `${e.stack}`);
      }
      log(`  (took ${((Date.now() - t) / 1000).toFixed(1)} s)`);
    }
    log("axe-core:");
    const t2 = Date.now();
    try {
      await accessibility(browser);
    } catch (e) {
      failures.push(e instanceof ContractError ? e.message : `${e.stack}`);
    }
    log(`  (axe took ${((Date.now() - t2) / 1000).toFixed(1)} s)`);
  } finally {
    await browser.close();
  }
  const shots = readdirSync(SHOTS).filter((f) => f.endsWith(".png")).length;
  log(`${shots} screenshots in ${SHOTS}; ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
  if (missingPages.length) log(`Missing pages (404, still being built): ${missingPages.join(", ")}`);
  for (const n of notes) log(`note: ${n}`);
  if (failures.length) {
    log(`\n${failures.length} failure(s):`);
    for (const f of failures) log(`- ${f}`);
    log("\nThe portal browser test FAILED.");
    process.exit(1);
  }
  log("The portal browser test passed.");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
