//! The `templates_automation` fuzz target on stable (CI's smoke period): its body
//! (`fuzz/bodies/templates_automation.rs`) over the committed seeds and regressions, then over
//! generated templates and values for a few seconds.

#[path = "../../../fuzz/bodies/replay.rs"]
mod replay;
#[path = "../../../fuzz/bodies/templates_automation.rs"]
mod templates_automation;

use openevent_automation::definition::{Channel, TemplateSpec, Trigger};
use openevent_automation::template::{check_source, render, sample_context};
use proptest::prelude::*;

#[test]
fn committed_fuzz_inputs_pass() {
    assert!(replay::replay("templates_automation", templates_automation::check) >= 4);
}

fn source() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{{ client.name }}".to_owned()),
        Just("{{ event.type|upper }}".to_owned()),
        Just("{{ offer.total }}".to_owned()),
        Just("{% if event.room %}in {{ event.room }}{% endif %}".to_owned()),
        Just("{% for c in client.name %}{{ c }}{% endfor %}".to_owned()),
        Just("{{ client.name ~ venue.name }}".to_owned()),
        Just("{{ client.name|replace(\"a\", \"b\") }}".to_owned()),
        Just("{{ client.name|tojson }}".to_owned()),
        Just("{{ client.name|escape }}".to_owned()),
        Just("{{ client.name|title }}".to_owned()),
        Just("{{ dict(a=client.name).a }}".to_owned()),
        Just("\n\n".to_owned()),
        Just("{{".to_owned()),
        Just("{% endif %}".to_owned()),
        "[ -~]{0,10}",
    ];
    prop::collection::vec(piece, 0..6).prop_map(|v| v.concat())
}

fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<script>alert(1)</script>".to_owned()),
        Just("\"><img src=x onerror=alert(1)>".to_owned()),
        Just("</p><p onclick=x>".to_owned()),
        Just("&lt;already&gt; & ' \" /".to_owned()),
        Just("Laura\r\nBcc: evil@example.com".to_owned()),
        Just("{{ 7*7 }}".to_owned()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn generated_templates(
        selector in any::<u8>(),
        subject in source(),
        body in source(),
        values in prop::collection::vec(hostile_value(), 0..4),
    ) {
        let mut input = vec![selector];
        input.extend_from_slice(subject.as_bytes());
        input.push(0);
        input.extend_from_slice(body.as_bytes());
        for v in values {
            input.push(0);
            input.extend_from_slice(v.as_bytes());
        }
        templates_automation::check(&input);
    }
}

/// A client's name in an email's HTML part is text, whatever it contains, and a subject is one
/// line even when a value carries a line break.
#[test]
fn client_markup_is_escaped_and_subjects_stay_one_line() {
    let mut ctx = sample_context(Trigger::LeadCreated);
    ctx["client"]["name"] = "</p><script>alert(1)</script>\r\nBcc: evil@example.com".into();
    let t = TemplateSpec {
        subject: Some("Hello {{ client.name }}".into()),
        body: "Dear {{ client.name }}\n\nSee you".into(),
    };
    let r = render(&t, Channel::Email, &ctx).unwrap();
    let html = r.html.unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    let subject = r.subject.unwrap();
    assert!(!subject.contains(['\r', '\n']), "{subject:?}");
    // The plain-text part is the text as written, not escaped.
    assert!(r.text.contains("<script>alert(1)</script>"), "{}", r.text);
}

/// Two nested loops over `range(100000)` are ten billion iterations: saved through the workflow
/// API, such a template kept a server thread busy for hours in validation alone (its sample
/// render). Renders now run on a fuel budget and stop with an error.
#[test]
fn a_template_cannot_loop_for_hours() {
    let source =
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}";
    let started = std::time::Instant::now();
    // Refused when saved (no loops in stored templates), and bounded when rendered anyway.
    let why = check_source(source, Trigger::LeadCreated).expect("refused");
    assert!(why.contains("do not allow"), "{why}");
    let t = TemplateSpec {
        subject: None,
        body: source.into(),
    };
    let err = render(&t, Channel::Email, &sample_context(Trigger::LeadCreated)).unwrap_err();
    assert!(err.to_string().contains("fuel"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // A loop of realistic size still renders.
    let ok = TemplateSpec {
        subject: None,
        body: "{% for i in range(500) %}{{ client.name }} {% endfor %}".into(),
    };
    assert!(render(&ok, Channel::Email, &sample_context(Trigger::LeadCreated)).is_ok());
}
