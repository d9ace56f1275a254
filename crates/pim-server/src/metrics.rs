//! Prometheus metrics at `/metrics` (text exposition format): request counts by status class,
//! check decisions, the size of the access index, group commit's batches. No labels carry ids or names.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;

/// Counters shared by every request.
#[derive(Debug, Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    checks_allowed: AtomicU64,
    checks_denied: AtomicU64,
}

impl Metrics {
    /// Counts a check decision.
    pub fn count_check(&self, allowed: bool) {
        let c = if allowed { &self.checks_allowed } else { &self.checks_denied };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a response by its status class.
    pub fn count_status(&self, status: u16) {
        let i = usize::from(status / 100).saturating_sub(1).min(4);
        self.by_class[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text.
    pub fn render(&self, index_assignments: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP pim_http_responses_total HTTP responses by status class.");
        let _ = writeln!(out, "# TYPE pim_http_responses_total counter");
        for (i, c) in self.by_class.iter().enumerate() {
            let _ = writeln!(out, "pim_http_responses_total{{class=\"{}xx\"}} {}", i + 1, c.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP pim_checks_total Check API decisions.");
        let _ = writeln!(out, "# TYPE pim_checks_total counter");
        let _ =
            writeln!(out, "pim_checks_total{{decision=\"allowed\"}} {}", self.checks_allowed.load(Ordering::Relaxed));
        let _ = writeln!(out, "pim_checks_total{{decision=\"denied\"}} {}", self.checks_denied.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP pim_index_assignments Active assignments held in the in-memory access index.");
        let _ = writeln!(out, "# TYPE pim_index_assignments gauge");
        let _ = writeln!(out, "pim_index_assignments {index_assignments}");
        let _ = writeln!(out, "# HELP pim_build_info The running pim's version.");
        let _ = writeln!(out, "# TYPE pim_build_info gauge");
        let _ = writeln!(out, "pim_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        out
    }
}

/// One histogram in the exposition format: its buckets (cumulative), `+Inf`, sum and count.
fn render_histogram(out: &mut String, name: &str, help: &str, h: &pim_engine::requests::Histogram) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (bound, n) in h.bounds.iter().zip(&h.cumulative) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", h.sum);
    let _ = writeln!(out, "{name}_count {}", h.count);
}

/// Group commit: requests per batch and seconds the batch lock was held per batch.
fn render_write_batches(out: &mut String, f: &pim_engine::requests::BatchFigures) {
    render_histogram(
        out,
        "pim_write_batch_requests",
        "Self-activations and self-deactivations carried out per group-commit batch (one transaction).",
        &f.requests,
    );
    render_histogram(
        out,
        "pim_write_batch_seconds",
        "Seconds the group-commit batch lock was held per batch, from taking it to the end of the commit.",
        &f.seconds,
    );
}

/// The connectors' queues: rows due, how long the longest-waiting access has been out of line, and failing rows.
fn render_connectors(out: &mut String, queues: &[pim_engine::connectors::QueueFigures]) {
    if queues.is_empty() {
        return;
    }
    type Gauge = (&'static str, &'static str, fn(&pim_engine::connectors::QueueFigures) -> String);
    let gauges: [Gauge; 3] = [
        ("pim_connector_queue_due", "Principals whose access in the target is due to be brought in line.", |q| {
            q.due.to_string()
        }),
        (
            "pim_connector_oldest_due_seconds",
            "How long the longest-waiting principal's access in the target has been out of line, retries included, in seconds.",
            |q| format!("{:.3}", q.oldest_due_age_ms as f64 / 1000.0),
        ),
        ("pim_connector_failing", "Principals whose last sync with the target failed.", |q| q.failing.to_string()),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for q in queues {
            let _ = writeln!(out, "{name}{{connector=\"{}\"}} {}", q.connector, value(q));
        }
    }
}

/// `GET /metrics`: Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus text format", body = String)))]
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let mut body = s.metrics.render(s.engine.index().len());
    render_write_batches(&mut body, &s.engine.write_batch_figures());
    if let Ok(queues) = s.engine.connector_queues().await {
        render_connectors(&mut body, &queues);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_by_class() {
        let m = Metrics::default();
        m.count_status(200);
        m.count_status(204);
        m.count_status(403);
        m.count_status(500);
        m.count_check(true);
        let text = m.render(7);
        assert!(text.contains("pim_http_responses_total{class=\"2xx\"} 2"));
        assert!(text.contains("pim_http_responses_total{class=\"4xx\"} 1"));
        assert!(text.contains("pim_http_responses_total{class=\"5xx\"} 1"));
        assert!(text.contains("pim_checks_total{decision=\"allowed\"} 1"));
        assert!(text.contains("pim_index_assignments 7"));
    }

    #[test]
    fn renders_the_write_batch_histograms() {
        let mut f = pim_engine::requests::BatchFigures::default();
        f.requests.cumulative[2..].iter_mut().for_each(|c| *c = 1);
        f.requests.count = 1;
        f.requests.sum = 3.0;
        f.seconds.cumulative[4..].iter_mut().for_each(|c| *c = 1);
        f.seconds.count = 1;
        f.seconds.sum = 0.0025;
        let mut text = String::new();
        render_write_batches(&mut text, &f);
        assert!(text.contains("# TYPE pim_write_batch_requests histogram"), "{text}");
        assert!(text.contains("pim_write_batch_requests_bucket{le=\"2\"} 0\n"), "{text}");
        assert!(text.contains("pim_write_batch_requests_bucket{le=\"4\"} 1\n"), "{text}");
        assert!(text.contains("pim_write_batch_requests_bucket{le=\"+Inf\"} 1\n"), "{text}");
        assert!(text.contains("pim_write_batch_requests_sum 3\n"), "{text}");
        assert!(text.contains("pim_write_batch_requests_count 1\n"), "{text}");
        assert!(text.contains("# TYPE pim_write_batch_seconds histogram"), "{text}");
        assert!(text.contains("pim_write_batch_seconds_bucket{le=\"0.002\"} 0\n"), "{text}");
        assert!(text.contains("pim_write_batch_seconds_bucket{le=\"0.003\"} 1\n"), "{text}");
        assert!(text.contains("pim_write_batch_seconds_sum 0.0025\n"), "{text}");
    }
}
