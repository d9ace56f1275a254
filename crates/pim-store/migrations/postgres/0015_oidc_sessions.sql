-- Which OpenID Connect provider and subject a session began at (kept parallel to
-- migrations/sqlite/0015_oidc_sessions.sql; see docs/designs/oidc-portal-step-up.md): a
-- portal session that signed in through a provider with `step_up = "idp"` passes MFA there again,
-- as the same subject. NULL for password sessions and API tokens.
ALTER TABLE api_tokens ADD COLUMN oidc_provider TEXT;
ALTER TABLE api_tokens ADD COLUMN oidc_subject TEXT;
