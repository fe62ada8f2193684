//! Fuzz body `templates_automation`: an automation step's template (openevent-automation
//! `template`) checked as when its workflow is saved, then rendered for a channel with
//! arbitrary variable values (what clients wrote: their name, their event type…).
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/templates_automation.rs`, nightly) and the
//! stable smoke test (`crates/openevent-automation/tests/fuzz_regressions.rs`).
//!
//! Input layout: byte 0 picks the trigger and the channel; the rest is UTF-8 (lossy)
//! `subject NUL body NUL value NUL value …` (an empty subject is none).

use openevent_automation::definition::{Channel, TemplateSpec, Trigger};
use openevent_automation::template::{check_source, render, sample_context};
use serde_json::Value;

const CHANNELS: [Channel; 5] = [
    Channel::Email,
    Channel::Whatsapp,
    Channel::Sms,
    Channel::Webhook,
    Channel::Task,
];

pub fn check(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let trigger = Trigger::ALL[usize::from(selector) % Trigger::ALL.len()];
    let channel = CHANNELS[usize::from(selector / 16) % CHANNELS.len()];
    let text = String::from_utf8_lossy(rest);
    let mut pieces = text.split('\0');
    let subject = pieces.next().unwrap_or_default();
    let body = pieces.next().unwrap_or_default();
    let values: Vec<&str> = pieces.collect();

    let _ = check_source(body, trigger);
    let _ = check_source(subject, trigger);

    // The trigger's variables, each with one of the values in turn.
    let mut ctx = sample_context(trigger);
    let mut i = 0;
    if let Value::Object(groups) = &mut ctx {
        for group in groups.values_mut() {
            if let Value::Object(fields) = group {
                for v in fields.values_mut() {
                    if !values.is_empty() {
                        *v = Value::String(values[i % values.len()].to_owned());
                    }
                    i += 1;
                }
            }
        }
    }
    let spec = TemplateSpec {
        subject: (!subject.is_empty()).then(|| subject.to_owned()),
        body: body.to_owned(),
    };
    let Ok(out) = render(&spec, channel, &ctx) else {
        return;
    };
    assert_eq!(out, render(&spec, channel, &ctx).expect("rendered once"));
    if let Some(s) = &out.subject {
        assert!(!s.contains(['\r', '\n']), "multi-line subject: {s:?}");
    }
    assert_eq!(out.text.trim(), out.text);
    assert_eq!(out.html.is_some(), channel == Channel::Email);
    if let Some(html) = &out.html {
        // Every variable is escaped in the HTML part: a template whose own text has no markup
        // (and does not opt out of escaping) yields no markup but the paragraphs it is put in.
        let opts_out = ["safe", "autoescape", "raw"]
            .iter()
            .any(|w| body.contains(w));
        if !body.contains(['<', '>']) && !opts_out {
            let bare = html
                .replace("<p>", "")
                .replace("</p>", "")
                .replace("<br>", "");
            assert!(
                !bare.contains(['<', '>']),
                "unescaped markup in the HTML part: {html}\ntemplate: {body:?}\nvalues: {values:?}"
            );
        }
    }
}
