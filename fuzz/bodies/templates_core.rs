//! Fuzz body `templates_core`: the booking workflow's reply templates (openevent-core
//! `workflow::templates`) with a venue's replacement file and arbitrary variable values.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/templates_core.rs`, nightly) and the stable
//! smoke test (`crates/openevent-core/tests/fuzz_regressions.rs`).
//!
//! Input layout: UTF-8 (lossy) `replacement NUL value NUL value …`. The replacement is a German
//! template file (`=== topic` sections) laid over the built-ins; every variable any built-in
//! template uses gets one of the values, in turn.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use openevent_core::understanding::Language;
use openevent_core::workflow::templates::Templates;
use serde_json::{Map, Value};

/// Every topic and every variable of the built-in templates.
static BUILTIN: LazyLock<(Vec<String>, Vec<String>)> = LazyLock::new(|| {
    let mut topics = BTreeSet::new();
    let mut vars = BTreeSet::new();
    let env = minijinja::Environment::new();
    for (_, text) in Templates::builtin_sources() {
        for section in text.split("\n=== ").map(|s| s.trim_start_matches("=== ")) {
            let (topic, body) = section.split_once('\n').unwrap_or((section, ""));
            topics.insert(topic.trim().to_owned());
            let t = env
                .template_from_str(body)
                .expect("built-in templates parse");
            vars.extend(t.undeclared_variables(false));
        }
    }
    (topics.into_iter().collect(), vars.into_iter().collect())
});

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut pieces = text.split('\0');
    let replacement = pieces.next().unwrap_or_default().to_owned();
    let values: Vec<&str> = pieces.collect();
    let (topics, vars) = &*BUILTIN;

    let templates = match Templates::with_overrides(&[(Language::De, replacement)]) {
        Ok(t) => t,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            Templates::builtin()
        }
    };
    let mut ctx = Map::new();
    for (i, var) in vars.iter().enumerate() {
        let v = if values.is_empty() {
            ""
        } else {
            values[i % values.len()]
        };
        ctx.insert(var.clone(), Value::String(v.to_owned()));
    }
    let ctx = Value::Object(ctx);
    let greeting = ctx["greeting"].as_str().unwrap_or_default();
    for topic in topics {
        for lang in [Language::En, Language::De, Language::Fr] {
            let Ok(out) = templates.render(lang, topic, &ctx) else {
                continue;
            };
            // Drafts are plain text: what the client wrote comes back verbatim, never
            // HTML-escaped (an escaped `&amp;` in an email would be a visible corruption).
            if !text.contains('&') {
                assert!(
                    !out.contains('&'),
                    "{topic}/{lang:?} escaped something: {out}"
                );
            }
            // The built-in English templates all begin with the greeting.
            if lang == Language::En
                && !greeting.is_empty()
                && !greeting
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                assert!(out.starts_with(greeting), "{topic}: {out:?}");
            }
            // tidy(): trimmed, no runs of blank lines, no trailing spaces.
            assert_eq!(out.trim(), out);
            assert!(!out.contains("\n\n\n"), "{out:?}");
            assert!(out.lines().all(|l| l.trim_end() == l), "{out:?}");
        }
    }
}
