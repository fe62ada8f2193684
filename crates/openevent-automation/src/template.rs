//! Message templates: minijinja with strict undefined variables. Which variables exist depends on
//! the step's trigger (an `offer_sent` step may speak of `offer.total`, a `lead_created` step may
//! not), and a template is checked against that set when its workflow is validated, so a typo is
//! refused when the workflow is saved, not discovered when the message should go out.
//!
//! Values arrive pre-formatted in the venue's style: dates DD.MM.YYYY in the venue's zone, times
//! HH:MM, amounts `CHF 1'234.50`. A value the booking does not have yet is an empty string, so
//! `{% if event.room %}` works.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use minijinja::{Environment, UndefinedBehavior};
use openevent_core::understanding::Language;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::booking::{BookingSnapshot, Subject};
use crate::definition::{Channel, TemplateSpec, Trigger};
use crate::settings::OrgSettings;

const BASE: &[&str] = &[
    "booking.id",
    "client.name",
    "client.email",
    "client.phone",
    "event.type",
    "event.date",
    "event.weekday",
    "event.start_time",
    "event.end_time",
    "event.room",
    "staff.name",
    "staff.email",
    "venue.name",
];
const OFFER: &[&str] = &["offer.total", "offer.expiry_date"];
const DEPOSIT: &[&str] = &["deposit.amount", "deposit.due_date"];
const APPOINTMENT: &[&str] = &[
    "appointment.type",
    "appointment.date",
    "appointment.weekday",
    "appointment.start_time",
    "appointment.end_time",
];
const SURVEY: &[&str] = &["survey.url"];

/// minijinja's global functions, which look like variables to the static analysis.
const GLOBALS: &[&str] = &["range", "dict", "namespace"];

/// The variables a step started by `trigger` may use.
pub fn variables_for(trigger: Trigger) -> BTreeSet<&'static str> {
    use Trigger as T;
    let extra: &[&[&str]] = match trigger {
        T::LeadCreated | T::BookingCancelled => &[],
        T::OfferSent | T::OfferAccepted | T::OfferDeclined | T::OptionPlaced => &[OFFER],
        T::DepositRequested | T::DepositPaid | T::BookingConfirmed => &[OFFER, DEPOSIT],
        T::EventCompleted => &[SURVEY],
        T::AppointmentCompleted => &[APPOINTMENT, SURVEY],
        T::AppointmentCreated
        | T::AppointmentConfirmed
        | T::AppointmentCancelled
        | T::AppointmentRescheduled => &[APPOINTMENT],
    };
    BASE.iter()
        .chain(extra.iter().flat_map(|v| v.iter()))
        .copied()
        .collect()
}

/// Instructions one render may execute. Real templates use a few hundred; without a bound, two
/// nested loops over `range(100000)` (a template any manager can save) keep a server thread busy
/// for hours, in validation already.
pub const FUEL: u64 = 100_000;

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env
}

/// Statements a stored template may use.
const STATEMENTS: &[&str] = &["if", "elif", "else", "endif"];
/// Filters a stored template may apply: none of them can make text much longer than its input.
const FILTERS: &[&str] = &[
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "default",
    "d",
    "escape",
    "e",
    "length",
];

/// The first construct of a stored template outside the safe subset: variables, `if` / `elif` /
/// `else` / `endif`, comparisons and a few filters that cannot grow text. Fuel bounds a render's
/// instructions but not its memory: one `"x" * 100000000`, a doubling `~` in a loop or a
/// chained `replace` allocates without end, and a manager can save a template — which is even
/// rendered once, on a sample, when saved.
fn outside_subset(source: &str) -> Option<String> {
    let mut rest = source;
    while let Some(open) = rest.find(['{']) {
        let after = &rest[open..];
        let (close, is_statement) = if after.starts_with("{{") {
            ("}}", false)
        } else if after.starts_with("{%") {
            ("%}", true)
        } else if after.starts_with("{#") {
            ("#}", false)
        } else {
            rest = &after[1..];
            continue;
        };
        let Some(end) = after[2..].find(close) else {
            // An unclosed tag: the parser reports it.
            return None;
        };
        let inner = &after[2..2 + end];
        rest = &after[2 + end + 2..];
        if close == "#}" {
            continue;
        }
        let inner = inner.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        if let Some(why) = expression_outside_subset(inner, is_statement) {
            return Some(why);
        }
    }
    None
}

fn expression_outside_subset(tag: &str, is_statement: bool) -> Option<String> {
    // String literals are data: blank them out before looking at the code around them.
    let mut code = String::with_capacity(tag.len());
    let mut quote: Option<char> = None;
    for c in tag.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                code.push('"');
            }
            Some(_) => {}
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                code.push('"');
            }
            None => code.push(c),
        }
    }
    if let Some(op) = code.chars().find(|c| "*/+-~%[]{}".contains(*c)) {
        return Some(format!("the operator `{op}`"));
    }
    if is_statement {
        let first = code
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .find(|w| !w.is_empty())
            .unwrap_or_default();
        if !STATEMENTS.contains(&first) {
            return Some(format!("the statement `{first}`"));
        }
    }
    // Walk the code: after `|` comes a filter; a name followed by `(` is a call.
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    let mut after_pipe = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_alphanumeric() || bytes[i] == '_' || bytes[i] == '.')
            {
                i += 1;
            }
            let word: String = bytes[start..i].iter().collect();
            let mut j = i;
            while j < bytes.len() && bytes[j].is_whitespace() {
                j += 1;
            }
            let called = j < bytes.len() && bytes[j] == '(';
            if after_pipe {
                if !FILTERS.contains(&word.as_str()) {
                    return Some(format!("the filter `{word}`"));
                }
                after_pipe = false;
            } else if called {
                return Some(format!("the function `{word}`"));
            }
            // Anything else is a keyword (`and`, `not`, `true`…) or a variable, which the
            // trigger's set decides (`check_source`).
            continue;
        }
        if c == '|' {
            after_pipe = true;
        }
        i += 1;
    }
    None
}

/// What is wrong with one template source for `trigger`, if anything.
pub fn check_source(source: &str, trigger: Trigger) -> Option<String> {
    if let Some(construct) = outside_subset(source) {
        return Some(format!(
            "uses {construct}, which stored templates do not allow (they may use variables, \
             {{% if %}} / {{% elif %}} / {{% else %}} / {{% endif %}}, comparisons and the filters {}): \
             a template must not be able to build text without bound",
            FILTERS.join(", ")
        ));
    }
    let env = env();
    let tmpl = match env.template_from_str(source) {
        Ok(t) => t,
        Err(e) => return Some(format!("is not a valid template: {e}")),
    };
    let allowed = variables_for(trigger);
    let mut unknown: Vec<String> = tmpl
        .undeclared_variables(true)
        .into_iter()
        .filter(|v| {
            !allowed.contains(v.as_str())
                && !GLOBALS.contains(&v.as_str())
                && !allowed.iter().any(|a| a.starts_with(&format!("{v}.")))
        })
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Some(format!(
            "uses {}, which {trigger} does not provide (available: {})",
            unknown.join(", "),
            allowed.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    // The static analysis cannot see everything (a filter applied to the wrong type); a render
    // over sample values catches the rest in the branches it takes.
    tmpl.render(minijinja::value::Serde(sample_context(trigger)))
        .err()
        .map(|e| format!("does not render: {e}"))
}

/// Every variable of `trigger` with a plausible value, for validation and previews of the bare
/// definition.
pub fn sample_context(trigger: Trigger) -> Value {
    let sample: BTreeMap<&str, &str> = [
        ("booking.id", "EVT-SAMPLE"),
        ("client.name", "Laura Meier"),
        ("client.email", "laura.meier@example.com"),
        ("client.phone", "+41791234567"),
        ("event.type", "Wedding"),
        ("event.date", "20.06.2026"),
        ("event.weekday", "Saturday"),
        ("event.start_time", "18:00"),
        ("event.end_time", "23:00"),
        ("event.room", "Room A"),
        ("staff.name", "Sara Keller"),
        ("staff.email", "sara@venue.example"),
        ("venue.name", "The Atelier"),
        ("offer.total", "CHF 1'234.50"),
        ("offer.expiry_date", "15.06.2026"),
        ("deposit.amount", "CHF 370.35"),
        ("deposit.due_date", "10.06.2026"),
        ("appointment.type", "site_visit"),
        ("appointment.date", "12.06.2026"),
        ("appointment.weekday", "Friday"),
        ("appointment.start_time", "14:00"),
        ("appointment.end_time", "15:00"),
        ("survey.url", "https://survey.example/s"),
    ]
    .into_iter()
    .collect();
    nest(
        variables_for(trigger)
            .into_iter()
            .map(|k| (k, sample.get(k).copied().unwrap_or("sample").to_owned())),
    )
}

fn nest(pairs: impl Iterator<Item = (&'static str, String)>) -> Value {
    let mut root = Map::new();
    for (path, value) in pairs {
        let (obj, field) = path.split_once('.').expect("variables are object.field");
        let entry = root
            .entry(obj.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(field.to_owned(), Value::String(value));
        }
    }
    Value::Object(root)
}

fn date(t: Timestamp, tz: &TimeZone) -> String {
    let d = t.to_zoned(tz.clone()).date();
    format!("{:02}.{:02}.{}", d.day(), d.month(), d.year())
}

fn time(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    format!("{:02}:{:02}", z.hour(), z.minute())
}

fn weekday(t: Timestamp, tz: &TimeZone, lang: Language) -> String {
    let i = t.to_zoned(tz.clone()).weekday().to_monday_zero_offset() as usize;
    let names: [&str; 7] = match lang {
        Language::De => [
            "Montag",
            "Dienstag",
            "Mittwoch",
            "Donnerstag",
            "Freitag",
            "Samstag",
            "Sonntag",
        ],
        Language::Fr => [
            "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
        ],
        Language::It => [
            "lunedì",
            "martedì",
            "mercoledì",
            "giovedì",
            "venerdì",
            "sabato",
            "domenica",
        ],
        Language::Es => [
            "lunes",
            "martes",
            "miércoles",
            "jueves",
            "viernes",
            "sábado",
            "domingo",
        ],
        Language::En => [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ],
    };
    names[i].to_owned()
}

/// The values of `trigger`'s variables for this booking (and appointment, for appointment
/// triggers), formatted for the venue's zone and the client's language.
pub fn context(
    trigger: Trigger,
    booking: &BookingSnapshot,
    subject: &Subject,
    settings: &OrgSettings,
) -> Value {
    let tz = settings.tz();
    let lang = booking.language;
    let opt = |v: Option<String>| v.unwrap_or_default();
    let appointment = match subject {
        Subject::Appointment { id } => booking.appointment(id),
        Subject::Booking => None,
    };
    let staff = appointment
        .and_then(|a| a.staff.as_ref())
        .or(booking.manager.as_ref());
    let ev = booking.event;
    let mut all: BTreeMap<&'static str, String> = BTreeMap::new();
    all.insert("booking.id", booking.event_id.to_string());
    all.insert("client.name", opt(booking.client.name.clone()));
    all.insert("client.email", opt(booking.client.email.clone()));
    all.insert("client.phone", opt(booking.client.phone.clone()));
    all.insert("event.type", opt(booking.event_type.clone()));
    all.insert("event.date", opt(ev.map(|s| date(s.start, tz))));
    all.insert("event.weekday", opt(ev.map(|s| weekday(s.start, tz, lang))));
    all.insert("event.start_time", opt(ev.map(|s| time(s.start, tz))));
    all.insert("event.end_time", opt(ev.map(|s| time(s.end, tz))));
    all.insert("event.room", opt(booking.room.clone()));
    all.insert("staff.name", opt(staff.map(|s| s.name.clone())));
    all.insert("staff.email", opt(staff.and_then(|s| s.email.clone())));
    all.insert("venue.name", settings.venue_name.clone());
    all.insert(
        "offer.total",
        opt(booking.offer.map(|o| o.total.display_chf())),
    );
    all.insert(
        "offer.expiry_date",
        opt(booking.offer.map(|o| date(o.expires_at, tz))),
    );
    all.insert(
        "deposit.amount",
        opt(booking.deposit.map(|d| d.amount.display_chf())),
    );
    all.insert(
        "deposit.due_date",
        opt(booking.deposit.map(|d| date(d.due_at, tz))),
    );
    all.insert(
        "appointment.type",
        opt(appointment.and_then(|a| a.kind.clone())),
    );
    all.insert(
        "appointment.date",
        opt(appointment.map(|a| date(a.span.start, tz))),
    );
    all.insert(
        "appointment.weekday",
        opt(appointment.map(|a| weekday(a.span.start, tz, lang))),
    );
    all.insert(
        "appointment.start_time",
        opt(appointment.map(|a| time(a.span.start, tz))),
    );
    all.insert(
        "appointment.end_time",
        opt(appointment.map(|a| time(a.span.end, tz))),
    );
    all.insert("survey.url", opt(booking.survey_url.clone()));
    nest(
        variables_for(trigger)
            .into_iter()
            .map(|k| (k, all.remove(k).unwrap_or_default())),
    )
}

/// A rendered message: subject (email, task), plain text, and for email an HTML part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("template {part}: {source}")]
pub struct RenderError {
    pub part: &'static str,
    #[source]
    pub source: minijinja::Error,
}

/// Renders a template with `ctx` (from `context`). The HTML part escapes every variable; the
/// template's own text is the organization's and is kept as written, paragraphs becoming `<p>`.
pub fn render(
    template: &TemplateSpec,
    channel: Channel,
    ctx: &Value,
) -> Result<Rendered, RenderError> {
    let mut env = env();
    // minijinja escapes for HTML exactly when the template's name ends in `.html`.
    let parts = [
        ("subject.txt", template.subject.as_deref()),
        ("body.txt", Some(template.body.as_str())),
        (
            "body.html",
            (channel == Channel::Email).then_some(template.body.as_str()),
        ),
    ];
    for (name, source) in parts {
        if let Some(source) = source {
            env.add_template_owned(name, source.to_owned())
                .map_err(|source| RenderError { part: name, source })?;
        }
    }
    let run = |name: &'static str| -> Result<Option<String>, RenderError> {
        match env.get_template(name) {
            Ok(t) => t
                .render(minijinja::value::Serde(ctx))
                .map(Some)
                .map_err(|source| RenderError { part: name, source }),
            Err(_) => Ok(None),
        }
    };
    let subject = run("subject.txt")?.map(|s| s.trim().replace(['\r', '\n'], " "));
    let text = run("body.txt")?.unwrap_or_default().trim().to_owned();
    let html = run("body.html")?.map(|h| paragraphs(h.trim()));
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

fn paragraphs(text: &str) -> String {
    let mut out = String::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str("<p>");
        out.push_str(&para.lines().collect::<Vec<_>>().join("<br>\n"));
        out.push_str("</p>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{appointment, booking};

    #[test]
    fn unknown_variables_are_refused_with_the_available_ones() {
        assert!(check_source("Hallo {{ client.name }}", Trigger::LeadCreated).is_none());
        let err = check_source("Total {{ offer.total }}", Trigger::LeadCreated).unwrap();
        assert!(err.contains("offer.total"), "{err}");
        assert!(err.contains("lead_created"), "{err}");
        assert!(check_source("Total {{ offer.total }}", Trigger::OfferSent).is_none());
        // Even in a branch the sample render would not take.
        let err = check_source(
            "{% if false %}{{ client.nmae }}{% endif %}",
            Trigger::LeadCreated,
        )
        .unwrap();
        assert!(err.contains("client.nmae"), "{err}");
        assert!(check_source("{{ client.name", Trigger::LeadCreated).is_some());
        // Loops, calls, arithmetic and text-growing filters are refused when saved.
        for bomb in [
            "{% for i in range(2) %}{{ i }}{% endfor %}",
            "{% set s = \"x\" * 100000000 %}{{ s }}",
            "{{ client.name ~ client.name }}",
            "{{ client.name|replace(\"a\", \"bbbbbbbb\") }}",
            "{{ client.name|indent(100000000) }}",
            "{{ dict(a=client.name).a }}",
            "{% autoescape false %}{{ client.name }}{% endautoescape %}",
            "{{ client.name|safe }}",
            "{{ [client.name] }}",
        ] {
            let why = check_source(bomb, Trigger::LeadCreated)
                .unwrap_or_else(|| panic!("{bomb} accepted"));
            assert!(why.contains("do not allow"), "{bomb}: {why}");
        }
        // What the library's workflows use stays allowed.
        for fine in [
            "{% if event.room %}in {{ event.room }}{% else %}soon{% endif %}",
            "{%- if client.phone -%} call {{ client.phone }} {%- endif %}",
            "{{ event.type|upper }} {{ client.name|default(\"guest\") }} {# a note * ~ #}",
            "{% if event.date == \"20.06.2026\" and not event.room %}x{% elif client.name %}y{% endif %}",
            "Price: {{ offer.total }} (50% now)",
        ] {
            assert_eq!(check_source(fine, Trigger::OfferSent), None, "{fine}");
        }
    }

    #[test]
    fn context_formats_in_the_venue_zone_and_language() {
        let mut b = booking();
        b.appointments
            .push(appointment("APT-1", "2026-06-12T14:00"));
        let ctx = context(
            Trigger::AppointmentConfirmed,
            &b,
            &Subject::Appointment {
                id: b.appointments[0].id.clone(),
            },
            &OrgSettings::atelier(),
        );
        assert_eq!(ctx["event"]["date"], "20.06.2026");
        assert_eq!(ctx["event"]["weekday"], "Samstag");
        assert_eq!(ctx["appointment"]["start_time"], "14:00");
        assert_eq!(ctx["appointment"]["date"], "12.06.2026");
        assert!(ctx.get("offer").is_none());
        let ctx = context(
            Trigger::OfferSent,
            &b,
            &Subject::Booking,
            &OrgSettings::atelier(),
        );
        assert_eq!(ctx["offer"]["total"], "CHF 1'234.50");
        assert_eq!(ctx["offer"]["expiry_date"], "15.06.2026");
    }

    #[test]
    fn email_gets_an_html_part_with_escaped_variables() {
        let mut b = booking();
        b.client.name = Some("<b>Laura</b> & Co".into());
        let ctx = context(
            Trigger::OfferSent,
            &b,
            &Subject::Booking,
            &OrgSettings::atelier(),
        );
        let t = TemplateSpec {
            subject: Some("Offerte {{ offer.total }}".into()),
            body: "Guten Tag {{ client.name }}\n\nIhre Offerte über {{ offer.total }}.\nGruss"
                .into(),
        };
        let r = render(&t, Channel::Email, &ctx).unwrap();
        assert_eq!(r.subject.as_deref(), Some("Offerte CHF 1'234.50"));
        assert!(r.text.starts_with("Guten Tag <b>Laura</b> & Co"));
        let html = r.html.unwrap();
        assert!(
            html.contains("Guten Tag &lt;b&gt;Laura&lt;&#x2f;b&gt; &amp; Co"),
            "{html}"
        );
        assert!(
            html.contains("<p>Ihre Offerte über CHF 1&#x27;234.50.<br>\nGruss</p>"),
            "{html}"
        );
        let sms = render(&t, Channel::Sms, &ctx).unwrap();
        assert!(sms.html.is_none());
    }
}
