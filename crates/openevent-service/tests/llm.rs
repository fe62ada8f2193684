//! The optional LLM in the ingest path, against a local mock server: its answer is used when
//! valid, and a failure falls back to the rules' understanding — loudly, on the timeline.

use std::sync::Arc;

use jiff::Timestamp;
use openevent_core::ids::OrgSlug;
use openevent_llm::{LlmClient, LlmConfig};
use openevent_service::{Engine, EngineConfig, ManualClock};
use openevent_store::{SqlStore, Store};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const RAW: &str = "From: Laura Meier <laura@helvetia-labs.ch>\r\nTo: events@atelier.example\r\nSubject: Workshop\r\nMessage-ID: <llm-1@helvetia-labs.ch>\r\n\r\nHello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00.\r\n";

async fn engine(server: &MockServer) -> Engine<SqlStore, Arc<ManualClock>> {
    let store = SqlStore::open("sqlite::memory:").await.unwrap();
    let clock = Arc::new(ManualClock::new(
        "2026-11-23T08:00:00Z".parse::<Timestamp>().unwrap(),
    ));
    let mut config = LlmConfig::new(server.uri(), "test-model");
    config.timeout_ms = 500;
    config.max_retries = 0;
    Engine::new(store, clock, EngineConfig::default())
        .with_llm(LlmClient::new(config, None).unwrap())
}

async fn audit_reasons(engine: &Engine<SqlStore, Arc<ManualClock>>, event: &str) -> Vec<String> {
    let org = OrgSlug::parse("default").unwrap();
    let id = openevent_core::ids::EventId::parse(event).unwrap();
    engine
        .store()
        .event_audit(&org, &id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.reason)
        .collect()
}

#[tokio::test]
async fn a_valid_answer_is_used_and_recorded() {
    let server = MockServer::start().await;
    let answer = json!({
        "intent": "event_request", "confidence": 0.97,
        "signals": {"is_acceptance": false, "is_rejection": false, "is_change_request": false,
                    "is_question": false, "is_manager_request": false, "has_urgency": false,
                    "has_injection_attempt": false},
        "event_type": "workshop"
    });
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer.to_string()}}]
        })))
        .mount(&server)
        .await;
    let engine = engine(&server).await;
    let org = OrgSlug::parse("default").unwrap();
    let report = engine.ingest_raw(&org, RAW.as_bytes()).await.unwrap();
    let event = report.result.event_id.unwrap();
    let reasons = audit_reasons(&engine, event.as_str()).await;
    assert!(
        reasons.contains(&"understanding_llm_refined".to_owned()),
        "{reasons:?}"
    );
    assert_eq!(engine.llm_metrics().unwrap().used, 1);
}

#[tokio::test]
async fn a_failing_model_falls_back_to_the_rules_loudly() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let engine = engine(&server).await;
    let org = OrgSlug::parse("default").unwrap();
    let report = engine.ingest_raw(&org, RAW.as_bytes()).await.unwrap();
    // The booking went ahead on the rules' understanding alone.
    assert!(!report.result.tasks.is_empty());
    let event = report.result.event_id.unwrap();
    let reasons = audit_reasons(&engine, event.as_str()).await;
    assert!(
        reasons.contains(&"understanding_llm_fallback".to_owned()),
        "{reasons:?}"
    );
    assert_eq!(engine.llm_metrics().unwrap().fallbacks(), 1);
}
