// A real OpenID Connect provider (node oidc-provider, OpenID Certified) for pim's sign-in tests.
//
//   node provider.mjs            (env: PIM_OIDC_REDIRECT, the portal client's redirect URIs,
//                                 separated by spaces;
//                                 PIM_OIDC_ISSUER, its issuer when a test's proxy stands before it;
//                                 PIM_OIDC_NO_DEVICE=1, no device authorization endpoint)
//
// It listens on 127.0.0.1 on a free port and prints one JSON line,
// {"issuer": "http://127.0.0.1:PORT", "listen": "http://127.0.0.1:PORT"} (the issuer is
// PIM_OIDC_ISSUER when set).
// Clients: "pim" (confidential, secret "pim-test-secret", the portal's redirect URI) and "pim-cli"
// (native, public, loopback redirect http://127.0.0.1/callback on any port, and the device grant of
// RFC 8628 unless PIM_OIDC_NO_DEVICE=1), and "pim-hs" (confidential, ID tokens signed HS256 with its
// secret, redirect http://127.0.0.1:9/callback). Interactions finish at once as the account the test
// chose with POST /test/next {"sub", "claims": {...}, "amr": [...], "acr": "..."} (the last one
// chosen stays until another is), so a plain HTTP client or a browser runs the whole flow with no
// form; a device's user code is approved through the provider's own /device pages. With "hold": true
// the interaction stops instead: a page that finishes nothing (a browser test then sends pim's
// callback a state of its own). POST /test/slow-down makes the next token request answer the device
// grant's `slow_down` error.
import http from 'node:http';
import Provider from 'oidc-provider';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const listen = `http://127.0.0.1:${server.address().port}`;
const issuer = process.env.PIM_OIDC_ISSUER || listen;
const accounts = new Map();
const device = process.env.PIM_OIDC_NO_DEVICE !== '1';
const deviceGrant = 'urn:ietf:params:oauth:grant-type:device_code';
let slowDown = false;
let next = { sub: 'alice', claims: { preferred_username: 'alice', email: 'alice@example.com', email_verified: true }, amr: ['pwd'] };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'pim',
      client_secret: 'pim-test-secret',
      redirect_uris: (process.env.PIM_OIDC_REDIRECT || 'http://127.0.0.1/unset').split(' ').filter(Boolean),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      require_auth_time: true,
    },
    {
      client_id: 'pim-cli',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: device ? ['authorization_code', deviceGrant] : ['authorization_code'],
      response_types: ['code'],
      require_auth_time: true,
    },
    {
      client_id: 'pim-hs',
      client_secret: 'pim-hs-test-secret-0123456789abcdef0123456789abcdef',
      redirect_uris: ['http://127.0.0.1:9/callback'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      require_auth_time: true,
      id_token_signed_response_alg: 'HS256',
    },
  ],
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA', 'HS256'] },
  claims: {
    openid: ['sub', 'amr', 'acr'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: device, successSource: async (ctx) => { ctx.body = 'device approved'; } },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['pim-test-cookie-key'] },
  findAccount: async (ctx, sub) => {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...account.claims }) };
  },
});
provider.proxy = false;

const body = (req) =>
  new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/test/next') {
      next = JSON.parse(await body(req));
      accounts.set(next.sub, next);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && req.url === '/test/slow-down') {
      slowDown = true;
      res.writeHead(204).end();
      return;
    }
    if (slowDown && req.method === 'POST' && req.url.startsWith('/token')) {
      slowDown = false;
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'slow_down' }));
      return;
    }
    if (req.url.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(req, res);
      if (next.hold) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>held</title><main><h1>Held at the provider</h1></main>');
        return;
      }
      accounts.set(next.sub, next);
      const grant = new provider.Grant({ accountId: next.sub, clientId: details.params.client_id });
      grant.addOIDCScope(String(details.params.scope || 'openid'));
      const grantId = await grant.save();
      const login = { accountId: next.sub, amr: next.amr };
      if (next.acr) login.acr = next.acr;
      await provider.interactionFinished(req, res, { login, consent: { grantId } }, { mergeWithLastSubmission: false });
      return;
    }
    callback(req, res);
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e && e.stack || e));
  }
});

accounts.set(next.sub, next);
process.stdout.write(`${JSON.stringify({ issuer, listen })}\n`);
