//! Scoring `understand` against the labelled corpus: per-field exact accuracy, the intent
//! confusion matrix and the list of misses. `Display` prints all three.

use std::collections::BTreeMap;
use std::fmt;

use openevent_core::understanding::{Intent, Language, ProductMention, Understanding};

use crate::corpus::Case;
use crate::{NluContext, PreparedLexicon, atelier_lexicon, detect_change_type, understand};

pub const SIGNAL_NAMES: &[&str] = &[
    "is_acceptance",
    "is_rejection",
    "is_change_request",
    "is_question",
    "is_manager_request",
    "has_urgency",
    "has_injection_attempt",
];

pub const ENTITY_FIELDS: &[&str] = &[
    "date",
    "date_end",
    "start_time",
    "end_time",
    "participants",
    "room",
    "layout",
    "products_add",
    "products_remove",
    "billing_address",
    "contact",
    "event_type",
];

const INTENTS: [Intent; 14] = Intent::ALL;

#[derive(Debug, Clone, Default)]
pub struct FieldScore {
    pub correct: usize,
    pub total: usize,
}

impl FieldScore {
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }
}

#[derive(Debug, Clone)]
pub struct Miss {
    pub case_id: String,
    pub field: String,
    pub expected: String,
    pub got: String,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub cases: usize,
    /// Field name → score, in a stable order.
    pub fields: BTreeMap<String, FieldScore>,
    /// (expected, predicted) → count.
    pub confusion: BTreeMap<(usize, usize), usize>,
    pub misses: Vec<Miss>,
}

impl Report {
    pub fn accuracy(&self, field: &str) -> f64 {
        self.fields.get(field).map_or(0.0, FieldScore::accuracy)
    }

    fn score(&mut self, id: &str, field: &str, expected: String, got: String) {
        let s = self.fields.entry(field.to_owned()).or_default();
        s.total += 1;
        if expected == got {
            s.correct += 1;
        } else {
            self.misses.push(Miss {
                case_id: id.to_owned(),
                field: field.to_owned(),
                expected,
                got,
            });
        }
    }
}

fn opt<T: fmt::Debug>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_owned(), |x| format!("{x:?}"))
}

fn opt_display<T: fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |x| x.to_string())
}

fn products(v: &[ProductMention]) -> String {
    let mut s: Vec<String> = v
        .iter()
        .map(|m| match m.quantity {
            Some(q) => format!("{}:{q}", m.product_id),
            None => m.product_id.to_string(),
        })
        .collect();
    s.sort();
    s.join(",")
}

fn sorted(v: &[String]) -> String {
    let mut s = v.to_vec();
    s.sort();
    s.join(",")
}

fn language_name(l: Language) -> &'static str {
    match l {
        Language::En => "en",
        Language::De => "de",
        Language::Fr => "fr",
        Language::It => "it",
        Language::Es => "es",
    }
}

/// Runs every case through `understand` (The Atelier's lexicon, Europe/Zurich) and scores it.
pub fn evaluate(cases: &[Case]) -> Report {
    let lexicon = PreparedLexicon::new(&atelier_lexicon());
    let tz = jiff::tz::TimeZone::get("Europe/Zurich").unwrap_or(jiff::tz::TimeZone::UTC);
    let mut r = Report {
        cases: cases.len(),
        ..Report::default()
    };
    for c in cases {
        let now = c.now();
        let event = match c.event.as_ref().map(|e| e.to_event(now)).transpose() {
            Ok(e) => e,
            Err(err) => {
                r.score(&c.id, "event_spec", String::new(), err);
                continue;
            }
        };
        let ctx = NluContext {
            lexicon: &lexicon,
            time_zone: &tz,
            event: event.as_ref(),
        };
        let u = understand(&c.subject, &c.body, &ctx, now);
        score_case(&mut r, c, &u);
        let change = event
            .as_ref()
            .and_then(|e| detect_change_type(e, &u, &format!("{}\n{}", c.subject, c.body)));
        r.score(&c.id, "change_type", opt(&c.expect.change), opt(&change));
    }
    r
}

fn score_case(r: &mut Report, c: &Case, u: &Understanding) {
    let x = &c.expect;
    let e = &u.entities;
    let ei = INTENTS.iter().position(|i| *i == x.intent).unwrap_or(0);
    let gi = INTENTS.iter().position(|i| *i == u.intent).unwrap_or(0);
    *r.confusion.entry((ei, gi)).or_default() += 1;
    let id = c.id.as_str();
    r.score(
        id,
        "intent",
        format!("{:?}", x.intent),
        format!("{:?}", u.intent),
    );
    r.score(
        id,
        "language",
        language_name(x.language.unwrap_or(Language::En)).into(),
        language_name(u.language).into(),
    );
    r.score(id, "date", opt_display(x.date), opt_display(e.date));
    r.score(
        id,
        "date_end",
        opt_display(x.date_end),
        opt_display(e.date_end),
    );
    r.score(
        id,
        "start_time",
        x.start_time.clone().unwrap_or("-".into()),
        opt_display(e.start_time),
    );
    r.score(
        id,
        "end_time",
        x.end_time.clone().unwrap_or("-".into()),
        opt_display(e.end_time),
    );
    r.score(
        id,
        "participants",
        opt_display(x.participants),
        opt_display(e.participants),
    );
    r.score(
        id,
        "room",
        x.room.clone().unwrap_or("-".into()),
        opt_display(e.room.as_ref()),
    );
    r.score(id, "layout", opt(&x.layout), opt(&e.layout));
    r.score(
        id,
        "products_add",
        sorted(&x.products_add),
        products(&e.products_add),
    );
    r.score(
        id,
        "products_remove",
        sorted(&x.products_remove),
        products(&e.products_remove),
    );
    r.score(
        id,
        "billing_address",
        opt(&x.billing),
        opt(&e.billing_address),
    );
    r.score(id, "contact", opt(&x.contact), opt(&e.contact));
    r.score(
        id,
        "event_type",
        x.event_type.clone().unwrap_or("-".into()),
        e.event_type.clone().unwrap_or("-".into()),
    );
    let s = &u.signals;
    let got = [
        s.is_acceptance,
        s.is_rejection,
        s.is_change_request,
        s.is_question,
        s.is_manager_request,
        s.has_urgency,
        s.has_injection_attempt,
    ];
    for (name, got) in SIGNAL_NAMES.iter().zip(got) {
        let want = x.signals.iter().any(|n| n == name);
        r.score(id, name, want.to_string(), got.to_string());
    }
}

fn short(i: Intent) -> &'static str {
    match i {
        Intent::EventRequest => "req",
        Intent::ConfirmDate => "cdat",
        Intent::EditDate => "edat",
        Intent::EditRoom => "eroo",
        Intent::EditRequirements => "ereq",
        Intent::EditProducts => "epro",
        Intent::AcceptOffer => "acc",
        Intent::DeclineOffer => "dec",
        Intent::CounterOffer => "ctr",
        Intent::DepositPaid => "dep",
        Intent::SiteVisitRequest => "visi",
        Intent::MessageManager => "mgr",
        Intent::GeneralQna => "qna",
        Intent::NonEvent => "non",
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "NLU corpus report: {} cases", self.cases)?;
        writeln!(f, "\nper-field exact accuracy:")?;
        for (name, s) in &self.fields {
            writeln!(
                f,
                "  {name:<22} {:>6.1} %  ({}/{})",
                s.accuracy() * 100.0,
                s.correct,
                s.total
            )?;
        }
        writeln!(
            f,
            "\nintent confusion matrix (rows: expected, columns: predicted):"
        )?;
        write!(f, "{:>6}", "")?;
        for i in INTENTS {
            write!(f, "{:>5}", short(i))?;
        }
        writeln!(f)?;
        for (ei, i) in INTENTS.iter().enumerate() {
            write!(f, "{:>6}", short(*i))?;
            for gi in 0..INTENTS.len() {
                match self.confusion.get(&(ei, gi)) {
                    Some(n) => write!(f, "{n:>5}")?,
                    None => write!(f, "{:>5}", ".")?,
                }
            }
            writeln!(f)?;
        }
        if !self.misses.is_empty() {
            writeln!(f, "\nmisses ({}):", self.misses.len())?;
            for m in &self.misses {
                writeln!(
                    f,
                    "  {:<18} {:<20} expected {}  got {}",
                    m.case_id, m.field, m.expected, m.got
                )?;
            }
        }
        Ok(())
    }
}
