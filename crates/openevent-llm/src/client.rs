//! The chat-completions client: one request per attempt, retries on what may pass on its own
//! (timeouts, transport errors, HTTP 429 and 5xx), and a loud fallback to the deterministic
//! understanding on everything else: a `tracing` warning, a metrics counter, and an
//! [`LlmOutcome::Fallback`] the caller stores on the booking record.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use openevent_core::understanding::Understanding;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::answer::{AnswerError, LlmAnswer, SCHEMA_NAME, json_schema};
use crate::config::{ConfigError, LlmConfig, ResponseFormat};
use crate::merge::merge;
use crate::prompt::{system_message, user_message};

/// Largest response body read; a chat completion of a few hundred tokens is a few KiB.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The result of [`LlmClient::refine`]: the understanding to decide on, and how it came about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refined {
    pub understanding: Understanding,
    pub llm: LlmOutcome,
}

/// What the model contributed; to be stored on the booking record (audit) as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LlmOutcome {
    /// The answer was valid and merged; `changed_fields` may be empty (it agreed with the rules).
    Used {
        model: String,
        latency_ms: u64,
        attempts: u32,
        changed_fields: Vec<String>,
    },
    /// The deterministic understanding was used unchanged.
    Fallback {
        model: String,
        reason: FallbackReason,
        latency_ms: u64,
        attempts: u32,
    },
}

impl LlmOutcome {
    pub fn is_fallback(&self) -> bool {
        matches!(self, Self::Fallback { .. })
    }
}

/// Why the model's answer was not used (the reason of the last attempt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FallbackReason {
    /// No complete answer within `timeout_ms`.
    Timeout { timeout_ms: u64 },
    /// The server answered with a non-success status.
    Http { status: u16 },
    /// Connection refused, reset, DNS, TLS, …
    Transport { detail: String },
    /// The response or its message content is not JSON (or not a chat completion).
    InvalidJson { detail: String },
    /// The content is JSON but not the answer schema.
    SchemaViolation { detail: String },
    /// The model refused (`refusal`, or `finish_reason: content_filter`).
    Refused { detail: String },
}

impl FallbackReason {
    /// A short stable name, for metrics labels and log fields.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "timeout",
            Self::Http { .. } => "http",
            Self::Transport { .. } => "transport",
            Self::InvalidJson { .. } => "invalid_json",
            Self::SchemaViolation { .. } => "schema_violation",
            Self::Refused { .. } => "refused",
        }
    }
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { timeout_ms } => write!(f, "no answer within {timeout_ms} ms"),
            Self::Http { status } => write!(f, "HTTP status {status}"),
            Self::Transport { detail } => write!(f, "transport error: {detail}"),
            Self::InvalidJson { detail } => write!(f, "invalid JSON: {detail}"),
            Self::SchemaViolation { detail } => write!(f, "schema violation: {detail}"),
            Self::Refused { detail } => write!(f, "the model refused: {detail}"),
        }
    }
}

/// Counters since the client was built; shared, so an exporter can read them at any time.
#[derive(Debug, Default)]
pub struct LlmMetrics {
    requests: AtomicU64,
    used: AtomicU64,
    changed: AtomicU64,
    retries: AtomicU64,
    fallback_timeout: AtomicU64,
    fallback_http: AtomicU64,
    fallback_transport: AtomicU64,
    fallback_invalid_json: AtomicU64,
    fallback_schema_violation: AtomicU64,
    fallback_refused: AtomicU64,
}

/// A copy of [`LlmMetrics`] at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MetricsSnapshot {
    /// Calls of `refine`.
    pub requests: u64,
    /// Answers merged (with or without a change).
    pub used: u64,
    /// Answers that changed at least one field.
    pub changed: u64,
    /// Attempts after the first.
    pub retries: u64,
    pub fallback_timeout: u64,
    pub fallback_http: u64,
    pub fallback_transport: u64,
    pub fallback_invalid_json: u64,
    pub fallback_schema_violation: u64,
    pub fallback_refused: u64,
}

impl MetricsSnapshot {
    pub fn fallbacks(&self) -> u64 {
        self.fallback_timeout
            + self.fallback_http
            + self.fallback_transport
            + self.fallback_invalid_json
            + self.fallback_schema_violation
            + self.fallback_refused
    }
}

impl LlmMetrics {
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            requests: get(&self.requests),
            used: get(&self.used),
            changed: get(&self.changed),
            retries: get(&self.retries),
            fallback_timeout: get(&self.fallback_timeout),
            fallback_http: get(&self.fallback_http),
            fallback_transport: get(&self.fallback_transport),
            fallback_invalid_json: get(&self.fallback_invalid_json),
            fallback_schema_violation: get(&self.fallback_schema_violation),
            fallback_refused: get(&self.fallback_refused),
        }
    }

    fn count_fallback(&self, reason: &FallbackReason) {
        let counter = match reason {
            FallbackReason::Timeout { .. } => &self.fallback_timeout,
            FallbackReason::Http { .. } => &self.fallback_http,
            FallbackReason::Transport { .. } => &self.fallback_transport,
            FallbackReason::InvalidJson { .. } => &self.fallback_invalid_json,
            FallbackReason::SchemaViolation { .. } => &self.fallback_schema_violation,
            FallbackReason::Refused { .. } => &self.fallback_refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("llm.api_key_env: the environment variable {var} is not set or empty")]
    MissingApiKey { var: String },
    #[error("TLS set-up failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP client set-up failed: {0}")]
    Http(#[from] reqwest::Error),
}

/// The optional LLM adapter. Build it once and share it; every call is independent.
pub struct LlmClient {
    config: LlmConfig,
    endpoint: reqwest::Url,
    api_key: Option<String>,
    http: reqwest::Client,
    metrics: Arc<LlmMetrics>,
}

impl fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("model", &self.config.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// How one attempt ended.
enum Attempt {
    Answer(LlmAnswer),
    /// May pass on its own: worth another attempt.
    Transient(FallbackReason),
    /// Will not change by asking again.
    Final(FallbackReason),
}

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

impl LlmClient {
    /// Validates `config` and builds the client. `api_key` is sent as `Authorization: Bearer`;
    /// `None` sends no such header (a local Ollama or vLLM needs none).
    pub fn new(config: LlmConfig, api_key: Option<String>) -> Result<Self, LlmError> {
        config.validate()?;
        let endpoint = config.endpoint()?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::tls::client_config()?)
            .user_agent(concat!("openevent-llm/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            config,
            endpoint,
            api_key: api_key.filter(|k| !k.trim().is_empty()),
            http,
            metrics: Arc::new(LlmMetrics::default()),
        })
    }

    /// Like [`LlmClient::new`], reading the key from the variable `api_key_env` names. A named
    /// variable that is unset or empty is an error: a configured key that silently goes missing
    /// would only show up as 401 fallbacks.
    pub fn from_env(config: LlmConfig) -> Result<Self, LlmError> {
        let api_key = match &config.api_key_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(k) if !k.trim().is_empty() => Some(k),
                _ => return Err(LlmError::MissingApiKey { var: var.clone() }),
            },
        };
        Self::new(config, api_key)
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// The counters of this client (and of every call made through it).
    pub fn metrics(&self) -> Arc<LlmMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The request body sent for one message (exposed for inspection and tests).
    pub fn request_body(&self, subject: &str, body: &str) -> Value {
        let response_format = match self.config.response_format {
            ResponseFormat::JsonSchema => json!({
                "type": "json_schema",
                "json_schema": { "name": SCHEMA_NAME, "strict": true, "schema": json_schema() }
            }),
            ResponseFormat::JsonObject => json!({ "type": "json_object" }),
        };
        json!({
            "model": self.config.model,
            "messages": [
                { "role": "system", "content": system_message(self.config.response_format) },
                { "role": "user", "content": user_message(subject, body, self.config.max_body_chars) }
            ],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "stream": false,
            "response_format": response_format
        })
    }

    /// Asks the model about one message and merges its answer into `deterministic` (see
    /// [`mod@crate::merge`]). Never fails: on any problem the deterministic understanding comes
    /// back unchanged with [`LlmOutcome::Fallback`], after a warning and a metrics count.
    /// `body` should be what the rules read (quoted history stripped).
    pub async fn refine(
        &self,
        subject: &str,
        body: &str,
        deterministic: &Understanding,
    ) -> Refined {
        self.metrics.requests.fetch_add(1, Ordering::Relaxed);
        let request = self.request_body(subject, body);
        let started = Instant::now();
        let mut attempts = 0;
        let result = loop {
            attempts += 1;
            match self.attempt(&request).await {
                Attempt::Answer(answer) => break Ok(answer),
                Attempt::Final(reason) => break Err(reason),
                Attempt::Transient(reason) if attempts > self.config.max_retries => {
                    break Err(reason);
                }
                Attempt::Transient(reason) => {
                    tracing::debug!(
                        model = %self.config.model,
                        attempt = attempts,
                        reason = reason.label(),
                        detail = %reason,
                        "LLM attempt failed; retrying"
                    );
                    self.metrics.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(self.config.retry_backoff_ms)).await;
                }
            }
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let model = self.config.model.clone();
        match result {
            Ok(answer) => {
                let (understanding, changed_fields) = merge(deterministic, &answer);
                self.metrics.used.fetch_add(1, Ordering::Relaxed);
                if !changed_fields.is_empty() {
                    self.metrics.changed.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(%model, latency_ms, attempts, ?changed_fields, "LLM answer merged");
                Refined {
                    understanding,
                    llm: LlmOutcome::Used {
                        model,
                        latency_ms,
                        attempts,
                        changed_fields,
                    },
                }
            }
            Err(reason) => {
                self.metrics.count_fallback(&reason);
                tracing::warn!(
                    %model,
                    reason = reason.label(),
                    detail = %reason,
                    attempts,
                    latency_ms,
                    "LLM refinement failed; using the deterministic understanding"
                );
                Refined {
                    understanding: deterministic.clone(),
                    llm: LlmOutcome::Fallback {
                        model,
                        reason,
                        latency_ms,
                        attempts,
                    },
                }
            }
        }
    }

    async fn attempt(&self, request: &Value) -> Attempt {
        let timeout_ms = self.config.timeout_ms;
        let exchange = async {
            let mut req = self
                .http
                .post(self.endpoint.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .json(request);
            if let Some(key) = &self.api_key {
                req = req.bearer_auth(key);
            }
            let mut resp = req.send().await?;
            let status = resp.status();
            let mut bytes = Vec::new();
            if status.is_success() {
                while let Some(chunk) = resp.chunk().await? {
                    if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Ok((status, None));
                    }
                    bytes.extend_from_slice(&chunk);
                }
            }
            Ok::<_, reqwest::Error>((status, Some(bytes)))
        };
        match tokio::time::timeout(Duration::from_millis(timeout_ms), exchange).await {
            Err(_) => Attempt::Transient(FallbackReason::Timeout { timeout_ms }),
            Ok(Err(e)) if e.is_timeout() => {
                Attempt::Transient(FallbackReason::Timeout { timeout_ms })
            }
            Ok(Err(e)) => Attempt::Transient(FallbackReason::Transport {
                detail: error_chain(&e),
            }),
            Ok(Ok((status, _))) if status.as_u16() == 429 || status.is_server_error() => {
                Attempt::Transient(FallbackReason::Http {
                    status: status.as_u16(),
                })
            }
            Ok(Ok((status, _))) if !status.is_success() => Attempt::Final(FallbackReason::Http {
                status: status.as_u16(),
            }),
            Ok(Ok((_, None))) => Attempt::Final(FallbackReason::InvalidJson {
                detail: format!("the response is larger than {MAX_RESPONSE_BYTES} bytes"),
            }),
            Ok(Ok((_, Some(bytes)))) => match read_completion(&bytes) {
                Ok(answer) => Attempt::Answer(answer),
                Err(reason) => Attempt::Final(reason),
            },
        }
    }
}

/// The answer inside a chat-completion response body.
fn read_completion(bytes: &[u8]) -> Result<LlmAnswer, FallbackReason> {
    let invalid = |detail: String| FallbackReason::InvalidJson { detail };
    let response: ChatResponse = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("the response is not a chat completion: {e}")))?;
    let choice = response
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| invalid("the response has no choices".into()))?;
    if let Some(refusal) = choice.message.refusal.filter(|r| !r.trim().is_empty()) {
        return Err(FallbackReason::Refused {
            detail: refusal.chars().take(200).collect(),
        });
    }
    let finish = choice.finish_reason.unwrap_or_default();
    if finish == "content_filter" {
        return Err(FallbackReason::Refused {
            detail: "finish_reason content_filter".into(),
        });
    }
    let content = choice.message.content.unwrap_or_default();
    if content.trim().is_empty() {
        return Err(invalid("the message content is empty".into()));
    }
    LlmAnswer::parse(&content).map_err(|e| match e {
        AnswerError::InvalidJson(d) if finish == "length" => invalid(format!(
            "{d} (finish_reason length: the answer was cut at max_tokens)"
        )),
        AnswerError::InvalidJson(detail) => FallbackReason::InvalidJson { detail },
        AnswerError::SchemaViolation(detail) => FallbackReason::SchemaViolation { detail },
    })
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(content: &str) -> Vec<u8> {
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop"}]})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn refusals_and_filters_are_refused() {
        let body = json!({"choices": [{"message": {"content": null, "refusal": "I can't help"}}]});
        assert!(matches!(
            read_completion(body.to_string().as_bytes()),
            Err(FallbackReason::Refused { detail }) if detail == "I can't help"
        ));
        let body =
            json!({"choices": [{"message": {"content": ""}, "finish_reason": "content_filter"}]});
        assert_eq!(
            read_completion(body.to_string().as_bytes())
                .unwrap_err()
                .label(),
            "refused"
        );
    }

    #[test]
    fn envelopes_that_are_not_completions_are_invalid_json() {
        for body in [&b"<html>"[..], b"{\"choices\": []}", b"{\"error\": \"x\"}"] {
            assert_eq!(read_completion(body).unwrap_err().label(), "invalid_json");
        }
        assert_eq!(
            read_completion(&completion("  ")).unwrap_err().label(),
            "invalid_json"
        );
    }

    #[test]
    fn a_cut_answer_says_so() {
        let body = json!({"choices": [{"message": {"content": "{\"intent\": \"gen"},
                                       "finish_reason": "length"}]});
        let err = read_completion(body.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("max_tokens"), "{err}");
    }

    #[test]
    fn outcomes_serialise_for_the_audit_trail() {
        let o = LlmOutcome::Fallback {
            model: "m".into(),
            reason: FallbackReason::Http { status: 401 },
            latency_ms: 3,
            attempts: 1,
        };
        assert_eq!(
            serde_json::to_value(&o).unwrap(),
            json!({"outcome": "fallback", "model": "m", "latency_ms": 3, "attempts": 1,
                   "reason": {"kind": "http", "status": 401}})
        );
        let back: LlmOutcome = serde_json::from_value(serde_json::to_value(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn debug_output_hides_the_key() {
        let c = LlmClient::new(
            LlmConfig::new("http://127.0.0.1:9/v1", "m"),
            Some("sk-secret".into()),
        )
        .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("sk-secret") && d.contains("<redacted>"), "{d}");
    }

    #[test]
    fn a_named_but_missing_key_variable_is_an_error() {
        let mut config = LlmConfig::new("http://127.0.0.1:9/v1", "m");
        config.api_key_env = Some("OPENEVENT_LLM_TEST_KEY_THAT_IS_NEVER_SET".into());
        let err = LlmClient::from_env(config).unwrap_err();
        assert!(
            err.to_string()
                .contains("OPENEVENT_LLM_TEST_KEY_THAT_IS_NEVER_SET"),
            "{err}"
        );
        let bad = LlmConfig::new("nope", "m");
        assert!(
            matches!(LlmClient::from_env(bad), Err(LlmError::Config(e)) if e.field == "base_url")
        );
    }
}
