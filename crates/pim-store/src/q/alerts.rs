//! Security alerts and administrators' changes to the alert rules.

use futures_util::TryStreamExt as _;
use pim_domain::AlertId;
use pim_domain::Timestamp;
use pim_domain::alert::{Alert, AlertState, RuleConfig};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row::{self, to_json};

/// Every stored rule configuration, by rule id.
pub async fn list_alert_rule_configs(c: &mut AnyConnection) -> Result<Vec<(String, RuleConfig)>> {
    let rows: Vec<AnyRow> =
        sqlx::query("SELECT id, config FROM alert_rules ORDER BY id").fetch(&mut *c).try_collect().await?;
    rows.iter().map(|r| Ok((row::text(r, 0)?, row::json(r, 1)?))).collect()
}

/// Stores a rule's configuration (replacing the previous one).
pub async fn put_alert_rule_config(c: &mut AnyConnection, id: &str, config: &RuleConfig, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO alert_rules (id, config, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
    )
    .bind(id.to_owned())
    .bind(to_json(config)?)
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

fn alert(r: &AnyRow) -> Result<Alert> {
    row::json(r, 0)
}

/// Inserts or replaces an alert.
pub async fn put_alert(c: &mut AnyConnection, a: &Alert) -> Result<()> {
    sqlx::query(
        "INSERT INTO alerts (id, rule_id, alert_key, state, body, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(a.id.to_string())
    .bind(a.rule_id.clone())
    .bind(a.key.clone())
    .bind(a.state.as_str())
    .bind(to_json(a)?)
    .bind(a.updated_at.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// One alert.
pub async fn get_alert(c: &mut AnyConnection, id: AlertId) -> Result<Option<Alert>> {
    let r = sqlx::query("SELECT body FROM alerts WHERE id = $1").bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(alert).transpose()
}

/// Alerts in a state (all with `None`), newest first.
pub async fn list_alerts(c: &mut AnyConnection, state: Option<AlertState>) -> Result<Vec<Alert>> {
    let rows: Vec<AnyRow> = match state {
        Some(s) => {
            sqlx::query("SELECT body FROM alerts WHERE state = $1 ORDER BY id DESC")
                .bind(s.as_str())
                .fetch(&mut *c)
                .try_collect()
                .await?
        }
        None => sqlx::query("SELECT body FROM alerts ORDER BY id DESC").fetch(&mut *c).try_collect().await?,
    };
    rows.iter().map(alert).collect()
}

/// The alerts of a rule that are not resolved (active or dismissed).
pub async fn open_alerts_of_rule(c: &mut AnyConnection, rule_id: &str) -> Result<Vec<Alert>> {
    let rows: Vec<AnyRow> =
        sqlx::query("SELECT body FROM alerts WHERE rule_id = $1 AND state <> 'resolved' ORDER BY id")
            .bind(rule_id.to_owned())
            .fetch(&mut *c)
            .try_collect()
            .await?;
    rows.iter().map(alert).collect()
}
