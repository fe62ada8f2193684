//! `GET /metrics` in the Prometheus text format: what this process did (messages by action, the
//! LLM adapter's use and fallbacks) and what waits (outbox by status, pending tasks). Counts
//! only, never tenant data.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use openevent_store::Store;

use crate::AppState;
use crate::problem::Problem;

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Label values come from fixed vocabularies (actions, statuses); escaped anyway.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub async fn metrics<S: Store>(
    State(app): State<AppState<S>>,
) -> Result<impl IntoResponse, Problem> {
    let counts = app
        .engine
        .store()
        .operational_counts()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let mut out = String::new();
    family(
        &mut out,
        "openevent_messages_processed_total",
        "counter",
        "Inbound messages processed by this process, by the turn's action.",
    );
    for (action, n) in app.engine.processed_by_action() {
        let _ = writeln!(
            out,
            "openevent_messages_processed_total{{action=\"{}\"}} {n}",
            label(action)
        );
    }
    family(
        &mut out,
        "openevent_outbox_jobs",
        "gauge",
        "Outbox jobs by status (all organizations).",
    );
    for (status, n) in &counts.outbox_by_status {
        let _ = writeln!(
            out,
            "openevent_outbox_jobs{{status=\"{}\"}} {n}",
            label(status)
        );
    }
    family(
        &mut out,
        "openevent_tasks_pending",
        "gauge",
        "Drafts and decisions waiting for a manager (all organizations).",
    );
    let _ = writeln!(out, "openevent_tasks_pending {}", counts.pending_tasks);
    let deliveries = app.engine.metrics().deliveries();
    family(
        &mut out,
        "openevent_delivery_seconds",
        "histogram",
        "How long delivery attempts took, by channel (SMTP conversation, provider request).",
    );
    for (channel, st) in &deliveries {
        let channel = label(channel);
        for (bound, n) in openevent_service::metrics::LATENCY_BUCKETS
            .iter()
            .zip(st.buckets)
        {
            let _ = writeln!(
                out,
                "openevent_delivery_seconds_bucket{{channel=\"{channel}\",le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "openevent_delivery_seconds_bucket{{channel=\"{channel}\",le=\"+Inf\"}} {}",
            st.count
        );
        let _ = writeln!(
            out,
            "openevent_delivery_seconds_sum{{channel=\"{channel}\"}} {}",
            st.sum_seconds
        );
        let _ = writeln!(
            out,
            "openevent_delivery_seconds_count{{channel=\"{channel}\"}} {}",
            st.count
        );
    }
    family(
        &mut out,
        "openevent_deliveries_total",
        "counter",
        "Delivery attempts by channel and outcome (sent, transient error: retried, permanent error).",
    );
    for (channel, st) in &deliveries {
        let channel = label(channel);
        for (outcome, n) in [
            ("sent", st.sent),
            ("transient_error", st.transient),
            ("permanent_error", st.permanent),
        ] {
            let _ = writeln!(
                out,
                "openevent_deliveries_total{{channel=\"{channel}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }
    family(
        &mut out,
        "openevent_ingest_errors_total",
        "counter",
        "Inbound messages that failed, by kind (rejected input, storage, workflow, contention).",
    );
    for (kind, n) in app.engine.metrics().ingest_errors() {
        let _ = writeln!(out, "openevent_ingest_errors_total{{kind=\"{kind}\"}} {n}");
    }
    if let Some(llm) = app.engine.llm_metrics() {
        family(
            &mut out,
            "openevent_llm_requests_total",
            "counter",
            "Messages offered to the LLM adapter.",
        );
        let _ = writeln!(out, "openevent_llm_requests_total {}", llm.requests);
        family(
            &mut out,
            "openevent_llm_used_total",
            "counter",
            "LLM answers merged into the understanding.",
        );
        let _ = writeln!(out, "openevent_llm_used_total {}", llm.used);
        family(
            &mut out,
            "openevent_llm_fallbacks_total",
            "counter",
            "LLM calls that fell back to the rules' understanding, by reason.",
        );
        for (reason, n) in [
            ("timeout", llm.fallback_timeout),
            ("http", llm.fallback_http),
            ("transport", llm.fallback_transport),
            ("invalid_json", llm.fallback_invalid_json),
            ("schema_violation", llm.fallback_schema_violation),
            ("refused", llm.fallback_refused),
        ] {
            let _ = writeln!(
                out,
                "openevent_llm_fallbacks_total{{reason=\"{reason}\"}} {n}"
            );
        }
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}
