//! `pim notifications`: what pim sent (or will send) by email and webhooks, and how delivery went.

use pim_api::{DeliveryStatus, NotificationQuery, RequestId};

use super::Ctx;
use super::output::{self, Format, Table, more_hint, time};

/// Options of `pim notifications`.
#[derive(Debug, clap::Args)]
pub struct NotificationsArgs {
    /// Only notifications in this delivery status.
    #[arg(long, value_parser = parse_status, value_name = "pending|delivered|failed")]
    pub status: Option<DeliveryStatus>,
    /// Only notifications of this event, e.g. role.activated.
    #[arg(long)]
    pub event: Option<String>,
    /// Only notifications about this request.
    #[arg(long)]
    pub request: Option<RequestId>,
    /// Page size (1-1000).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue after a previous page.
    #[arg(long)]
    pub cursor: Option<String>,
}

fn parse_status(s: &str) -> Result<DeliveryStatus, String> {
    DeliveryStatus::parse(&s.trim().to_ascii_lowercase())
        .ok_or_else(|| format!("'{s}' is not a delivery status: use pending, delivered or failed"))
}

/// Runs `pim notifications`.
pub async fn run(ctx: &Ctx, args: NotificationsArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let query = NotificationQuery {
        status: args.status,
        event: args.event,
        request_id: args.request,
        limit: args.limit,
        cursor: args.cursor,
    };
    let page = client.list_notifications(&query).await?;
    if ctx.format == Format::Json {
        return output::print_json(&page);
    }
    let mut t = Table::new(&["CREATED", "EVENT", "CHANNEL", "RECIPIENT", "STATUS", "ATTEMPTS", "WHEN", "ERROR"]);
    for n in &page.items {
        let when = match n.status {
            DeliveryStatus::Delivered => n.delivered_at.map(time).unwrap_or_default(),
            DeliveryStatus::Pending => format!("next {}", time(n.next_attempt_at)),
            DeliveryStatus::Failed => String::new(),
        };
        t.row(vec![
            time(n.created_at),
            n.event.clone(),
            n.channel.as_str().to_owned(),
            n.recipient.clone(),
            n.status.as_str().to_owned(),
            n.attempts.to_string(),
            when,
            n.last_error.clone().unwrap_or_default(),
        ]);
    }
    output::print(&t.render())?;
    more_hint(ctx.format, page.next_cursor.as_deref());
    Ok(())
}
