//! The optional LLM adapter of openevent's message understanding.
//!
//! Off unless the application configuration has an `[llm]` section ([`LlmConfig`]). When on, the
//! service first runs the deterministic rules (`openevent-nlu`), then asks an OpenAI-compatible
//! chat-completions server (a local Ollama or vLLM, or a hosted one) about the same message with
//! [`LlmClient::refine`], which returns a [`Refined`]: the understanding to decide on and an
//! [`LlmOutcome`] to store on the booking record.
//!
//! - The model answers a small strict schema ([`answer::json_schema`]): intent, confidence,
//!   signals, event type. It has no field for a date, a number, a room, a price or an action.
//! - [`merge()`] (pure) keeps every hard fact of the rules and lets the model add signals and,
//!   where the rules are unsure, refine the intent. Its table is at the top of `merge.rs`.
//! - The email is data: the system prompt says so and the email travels alone, between
//!   unforgeable markers, in the user message ([`prompt`]). An injection flag raised by the rules
//!   or the model blocks the rest of the answer.
//! - Timeouts, transport errors, HTTP errors, invalid JSON, schema violations and refusals fall
//!   back to the deterministic understanding, loudly: a `tracing` warning, a counter in
//!   [`LlmMetrics`], and [`LlmOutcome::Fallback`] with its [`FallbackReason`] for the record.
//!
//! Servers: the request carries `response_format: {type: "json_schema", json_schema: {name,
//! strict: true, schema}}`, which OpenAI, Ollama (≥ 0.5, OpenAI-compatible `/v1` endpoint) and
//! vLLM (guided decoding) accept; a server that knows only JSON mode gets
//! `{type: "json_object"}` with `response_format = "json_object"`, and the schema is then given in
//! the system prompt. The answer is validated here in every case.

pub mod answer;
mod client;
pub mod config;
pub mod merge;
pub mod prompt;
mod tls;

pub use answer::LlmAnswer;
pub use client::{
    FallbackReason, LlmClient, LlmError, LlmMetrics, LlmOutcome, MetricsSnapshot, Refined,
};
pub use config::{ConfigError, LlmConfig, ResponseFormat};
pub use merge::{INTENT_OVERRIDE_BELOW, merge};
