//! The `[llm]` configuration section. Absent section = no LLM: the deterministic rules alone.
//!
//! ```toml
//! [llm]
//! base_url = "http://127.0.0.1:11434/v1"   # Ollama; vLLM: "http://127.0.0.1:8000/v1"
//! model = "qwen2.5:7b-instruct"
//! api_key_env = "OPENEVENT_LLM_API_KEY"     # optional: a local Ollama needs none
//! # timeout_ms = 8000, max_retries = 1, retry_backoff_ms = 250, temperature = 0.0,
//! # max_tokens = 300, max_body_chars = 8000, response_format = "json_schema"
//! ```

use serde::{Deserialize, Serialize};

/// How the server is asked for JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// `{"type": "json_schema", "json_schema": {"name", "strict": true, "schema"}}`: the server
    /// constrains decoding to the schema (OpenAI, Ollama ≥ 0.5, vLLM guided decoding).
    #[default]
    JsonSchema,
    /// `{"type": "json_object"}` for servers that only know JSON mode; the schema is then only
    /// described in the system prompt. The answer is validated here either way.
    JsonObject,
}

/// Settings of the optional LLM adapter. Unknown keys are refused, so a typo cannot silently
/// leave a setting at its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Base of the OpenAI-compatible API, up to and including the version segment
    /// (`http://127.0.0.1:11434/v1`); the client posts to `{base_url}/chat/completions`.
    pub base_url: String,
    pub model: String,
    /// Name of the environment variable holding the API key (sent as `Authorization: Bearer`).
    /// `None`: no key and no `Authorization` header.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Deadline of one attempt (connect, send, whole answer), in milliseconds.
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    /// Further attempts after a timeout, a transport error, HTTP 429 or 5xx. Never after an
    /// answer that was received but unusable (4xx, invalid JSON, schema violation, refusal).
    #[serde(default = "defaults::max_retries")]
    pub max_retries: u32,
    /// Pause before each retry, in milliseconds.
    #[serde(default = "defaults::retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// Sampling temperature; 0 for the most repeatable answers.
    #[serde(default)]
    pub temperature: f64,
    /// Upper bound of the answer's length in tokens; the answer is a small JSON object.
    #[serde(default = "defaults::max_tokens")]
    pub max_tokens: u32,
    /// The body is cut to this many characters before it is sent (cost, latency, privacy).
    #[serde(default = "defaults::max_body_chars")]
    pub max_body_chars: usize,
    #[serde(default)]
    pub response_format: ResponseFormat,
}

mod defaults {
    pub fn timeout_ms() -> u64 {
        8_000
    }
    pub fn max_retries() -> u32 {
        1
    }
    pub fn retry_backoff_ms() -> u64 {
        250
    }
    pub fn max_tokens() -> u32 {
        300
    }
    pub fn max_body_chars() -> usize {
        8_000
    }
}

/// A configuration value that is not acceptable; `field` is the key under `[llm]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("llm.{field}: {problem}")]
pub struct ConfigError {
    pub field: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

impl LlmConfig {
    /// A configuration with every optional setting at its default.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: None,
            timeout_ms: defaults::timeout_ms(),
            max_retries: defaults::max_retries(),
            retry_backoff_ms: defaults::retry_backoff_ms(),
            temperature: 0.0,
            max_tokens: defaults::max_tokens(),
            max_body_chars: defaults::max_body_chars(),
            response_format: ResponseFormat::default(),
        }
    }

    /// Checks every field; the first problem found is returned, naming its field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.endpoint()?;
        let model = self.model.trim();
        if model.is_empty() {
            return Err(ConfigError::new("model", "must not be empty"));
        }
        if model.len() > 200 || model.chars().any(char::is_control) {
            return Err(ConfigError::new(
                "model",
                "must be at most 200 characters without control characters",
            ));
        }
        if let Some(name) = &self.api_key_env {
            let mut chars = name.chars();
            let valid = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ConfigError::new(
                    "api_key_env",
                    format!(
                        "'{name}' is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
                    ),
                ));
            }
        }
        if !(1..=300_000).contains(&self.timeout_ms) {
            return Err(ConfigError::new(
                "timeout_ms",
                format!("{} is outside 1..=300000", self.timeout_ms),
            ));
        }
        if self.max_retries > 5 {
            return Err(ConfigError::new(
                "max_retries",
                format!("{} is more than 5", self.max_retries),
            ));
        }
        if self.retry_backoff_ms > 60_000 {
            return Err(ConfigError::new(
                "retry_backoff_ms",
                format!("{} is more than 60000", self.retry_backoff_ms),
            ));
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return Err(ConfigError::new(
                "temperature",
                format!("{} is outside 0..=2", self.temperature),
            ));
        }
        if !(16..=8_192).contains(&self.max_tokens) {
            return Err(ConfigError::new(
                "max_tokens",
                format!("{} is outside 16..=8192", self.max_tokens),
            ));
        }
        if !(200..=200_000).contains(&self.max_body_chars) {
            return Err(ConfigError::new(
                "max_body_chars",
                format!("{} is outside 200..=200000", self.max_body_chars),
            ));
        }
        Ok(())
    }

    /// `{base_url}/chat/completions`, refusing a base URL that is not plain http(s).
    pub fn endpoint(&self) -> Result<reqwest::Url, ConfigError> {
        let bad = |problem: String| ConfigError::new("base_url", problem);
        let raw = self.base_url.trim();
        let url =
            reqwest::Url::parse(raw).map_err(|e| bad(format!("'{raw}' is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!(
                "scheme must be http or https, not '{}'",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad(format!("'{raw}' has no host")));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(format!("'{raw}' must not carry a query or fragment")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "must not carry credentials; name the key's variable in api_key_env".into(),
            ));
        }
        let joined = format!("{}/chat/completions", url.as_str().trim_end_matches('/'));
        reqwest::Url::parse(&joined).map_err(|e| bad(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<LlmConfig, String> {
        toml::from_str(toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let c = parse("base_url = \"http://127.0.0.1:11434/v1\"\nmodel = \"llama3.1\"\n").unwrap();
        assert_eq!(c, LlmConfig::new("http://127.0.0.1:11434/v1", "llama3.1"));
        assert_eq!(c.timeout_ms, 8_000);
        assert_eq!(c.max_retries, 1);
        assert_eq!(c.temperature, 0.0);
        assert_eq!(c.api_key_env, None);
        assert_eq!(c.response_format, ResponseFormat::JsonSchema);
        c.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = parse("base_url = \"http://x/v1\"\nmodel = \"m\"\ntimeout = 5\n").unwrap_err();
        assert!(err.contains("unknown field `timeout`"), "{err}");
    }

    #[test]
    fn endpoint_appends_chat_completions_once() {
        for base in ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/"] {
            let c = LlmConfig::new(base, "m");
            assert_eq!(
                c.endpoint().unwrap().as_str(),
                "http://127.0.0.1:8000/v1/chat/completions"
            );
        }
    }

    #[test]
    fn each_invalid_value_names_its_field() {
        let base = LlmConfig::new("https://llm.example.com/v1", "m");
        type Change = fn(&mut LlmConfig);
        let cases: [(&str, Change); 14] = [
            ("base_url", |c| c.base_url = "localhost:11434".into()),
            ("base_url", |c| c.base_url = "ftp://host/v1".into()),
            ("base_url", |c| c.base_url = "http://host/v1?x=1".into()),
            ("base_url", |c| c.base_url = "http://u:p@host/v1".into()),
            ("model", |c| c.model = "  ".into()),
            ("api_key_env", |c| c.api_key_env = Some("MY-KEY".into())),
            ("api_key_env", |c| c.api_key_env = Some(String::new())),
            ("timeout_ms", |c| c.timeout_ms = 0),
            ("max_retries", |c| c.max_retries = 6),
            ("retry_backoff_ms", |c| c.retry_backoff_ms = 60_001),
            ("temperature", |c| c.temperature = -0.1),
            ("temperature", |c| c.temperature = f64::NAN),
            ("max_tokens", |c| c.max_tokens = 1),
            ("max_body_chars", |c| c.max_body_chars = 10),
        ];
        for (field, change) in cases {
            let mut c = base.clone();
            change(&mut c);
            let err = c.validate().unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(
                err.to_string().starts_with(&format!("llm.{field}: ")),
                "{err}"
            );
        }
        base.validate().unwrap();
    }
}
