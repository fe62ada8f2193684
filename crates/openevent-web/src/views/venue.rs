//! The venue as the venue page shows it: every setting of the venue file, formatted once (amounts
//! as `CHF 1'234.50`, percentages from basis points, dates DD.MM.YYYY).
//!
//! Read from the [`VenueSpec`], the same shape the venue file has, so that an edit form can fill
//! its fields from the same source and send them back as a spec to validate.

use std::collections::BTreeMap;

use jiff::civil::Weekday;
use openevent_core::venue::{
    DepositKind, DepositPolicy, FaqEntry, Product, Room, Venue, VenueError, VenueSpec,
};

use super::{Fact, date, serde_words};

pub struct VenueView {
    pub name: String,
    pub facts: Vec<Fact>,
    pub rooms: Vec<RoomView>,
    pub products: Vec<ProductView>,
    pub deposit: Vec<Fact>,
    pub blackout_dates: Vec<String>,
    pub site_visits: Vec<Fact>,
    pub faq: Vec<FaqView>,
    /// Draft topics that leave without approval (empty: every draft waits for a manager).
    pub auto_approve: Vec<String>,
}

pub struct RoomView {
    pub id: String,
    pub name: String,
    /// `12–40`.
    pub capacity: String,
    /// `Theatre 40`, one per layout the room offers.
    pub layouts: Vec<String>,
    pub full_day_rate: String,
    /// `30 min before, 30 min after`.
    pub buffers: String,
}

pub struct ProductView {
    pub id: String,
    pub name: String,
    pub price: String,
    pub unit: String,
    /// `All rooms`, or `Not in Room A`.
    pub rooms: String,
}

pub struct FaqView {
    pub topic: String,
    pub keywords: String,
    /// The answer in English first, then in every other language the venue wrote it in.
    pub answers: Vec<Fact>,
}

/// Basis points as a percentage: `810` → `8.1 %`, `3000` → `30 %`.
pub fn percent(basis_points: u32) -> String {
    let whole = basis_points / 100;
    let frac = basis_points % 100;
    if frac == 0 {
        format!("{whole} %")
    } else {
        let digits = format!("{frac:02}");
        format!("{whole}.{} %", digits.trim_end_matches('0'))
    }
}

fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn room_view(r: &Room) -> RoomView {
    RoomView {
        id: r.id.to_string(),
        name: r.name.clone(),
        capacity: format!("{}–{}", r.capacity_min, r.capacity_max),
        layouts: r
            .layouts
            .iter()
            .map(|(layout, seats)| format!("{} {seats}", serde_words(layout)))
            .collect(),
        full_day_rate: r.full_day_rate_chf.display_chf(),
        buffers: format!(
            "{} min before, {} min after",
            r.buffer_before_min, r.buffer_after_min
        ),
    }
}

fn product_view(p: &Product, venue: &Venue) -> ProductView {
    let rooms = if p.not_in_rooms.is_empty() {
        "All rooms".to_owned()
    } else {
        let names: Vec<String> = p
            .not_in_rooms
            .iter()
            .map(|id| {
                venue
                    .room(id)
                    .map_or_else(|| id.to_string(), |r| r.name.clone())
            })
            .collect();
        format!("Not in {}", names.join(", "))
    };
    ProductView {
        id: p.id.to_string(),
        name: p.name.clone(),
        price: p.price_chf.display_chf(),
        unit: serde_words(&p.unit),
        rooms,
    }
}

fn deposit_facts(d: &DepositPolicy) -> Vec<Fact> {
    let amount = match (d.kind, d.fixed_chf) {
        (DepositKind::Percentage, _) => format!("{} of the offer total", percent(d.percent)),
        (DepositKind::Fixed, Some(amount)) => {
            format!(
                "{} per booking, at most the offer total",
                amount.display_chf()
            )
        }
        // The venue check refuses this; say so rather than invent an amount.
        (DepositKind::Fixed, None) => "Fixed, but no amount is set".to_owned(),
    };
    vec![
        Fact {
            label: "Deposit",
            value: if d.enabled {
                "Asked for with every accepted offer".to_owned()
            } else {
                "Not asked for (off)".to_owned()
            },
        },
        Fact {
            label: "Amount",
            value: amount,
        },
        Fact {
            label: "Due",
            value: format!(
                "{} before the event, but never earlier than the day after the offer",
                plural(d.due_days_before, "day", "days")
            ),
        },
    ]
}

fn faq_view(f: &FaqEntry) -> FaqView {
    let a = &f.answer;
    let mut answers = vec![Fact {
        label: "English",
        value: a.en.clone(),
    }];
    for (label, text) in [
        ("German", &a.de),
        ("French", &a.fr),
        ("Italian", &a.it),
        ("Spanish", &a.es),
    ] {
        if let Some(t) = text {
            answers.push(Fact {
                label,
                value: t.clone(),
            });
        }
    }
    FaqView {
        topic: super::words(&f.topic),
        keywords: f.keywords.join(", "),
        answers,
    }
}

fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}

fn general_facts(s: &VenueSpec) -> Vec<Fact> {
    let mut facts = Vec::new();
    if !s.city.is_empty() {
        facts.push(Fact {
            label: "City",
            value: s.city.clone(),
        });
    }
    facts.extend([
        Fact {
            label: "Time zone",
            value: s.time_zone.clone(),
        },
        Fact {
            label: "Currency",
            value: s.currency.clone(),
        },
        Fact {
            label: "VAT",
            value: format!(
                "{}, {}",
                percent(s.vat_percent),
                if s.prices_include_vat {
                    "included in the prices"
                } else {
                    "added to the prices"
                }
            ),
        },
        Fact {
            label: "Operating hours",
            value: format!(
                "{}–{} every day",
                s.operating_hours.open, s.operating_hours.close
            ),
        },
        Fact {
            label: "Offers",
            value: format!(
                "valid for {}, payment within {}",
                plural(u32::from(s.offer.validity_days), "day", "days"),
                plural(u32::from(s.offer.payment_days), "day", "days")
            ),
        },
        Fact {
            label: "Negotiation",
            value: format!(
                "{} off per counter-offer, at most {} in all; after {} a manager takes over",
                percent(s.negotiation.discount_step_percent),
                percent(s.negotiation.max_discount_percent),
                plural(
                    s.negotiation.max_counters,
                    "counter-offer",
                    "counter-offers"
                )
            ),
        },
    ]);
    facts
}

fn site_visit_facts(s: &VenueSpec) -> Vec<Fact> {
    let v = &s.site_visits;
    vec![
        Fact {
            label: "Days",
            value: if v.weekdays.is_empty() {
                "none".to_owned()
            } else {
                v.weekdays
                    .iter()
                    .map(|d| weekday_name(d.weekday()))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        },
        Fact {
            label: "Times",
            value: if v.times.is_empty() {
                "none".to_owned()
            } else {
                v.times
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        },
        Fact {
            label: "Notice",
            value: format!("at least {} ahead", plural(v.min_days_ahead, "day", "days")),
        },
    ]
}

pub fn venue_view(venue: &Venue) -> VenueView {
    let s = venue.spec();
    VenueView {
        name: s.name.clone(),
        facts: general_facts(s),
        rooms: s.rooms.iter().map(room_view).collect(),
        products: s.products.iter().map(|p| product_view(p, venue)).collect(),
        deposit: deposit_facts(&s.deposit),
        blackout_dates: s
            .blackout_dates
            .iter()
            .map(|d| format!("{} {}", d.strftime("%a"), date(*d)))
            .collect(),
        site_visits: site_visit_facts(s),
        faq: s.faq.iter().map(faq_view).collect(),
        auto_approve: s.hil.auto_approve.iter().map(|t| super::words(t)).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// The edit form

/// A problem of an edited venue, next to the form: the field it concerns and what is wrong.
pub struct VenueProblemView {
    /// `operating_hours`, `rooms[1] (room_b).capacity_min`, or for a syntax error the field the
    /// parser stopped at, as far as the text tells, with the line (`rooms[1].bogus (line 54)`).
    pub field: String,
    pub message: String,
}

/// The venue's edit form: the text (the venue's TOML, or what a refused save sent) and why it was
/// refused.
#[derive(Default)]
pub struct VenueForm {
    pub text: String,
    /// What went wrong as a whole (shown above the problems).
    pub error: Option<String>,
    /// The TOML parser's whole message, with its line and the text it stopped at (verbatim).
    pub syntax: Option<String>,
    pub problems: Vec<VenueProblemView>,
}

impl VenueForm {
    pub fn with_text(text: String) -> Self {
        Self {
            text,
            ..Self::default()
        }
    }

    pub fn has_errors(&self) -> bool {
        self.error.is_some() || self.syntax.is_some() || !self.problems.is_empty()
    }

    /// The form refused with one message.
    pub fn refused(text: String, error: impl Into<String>) -> Self {
        Self {
            text,
            error: Some(error.into()),
            ..Self::default()
        }
    }

    /// The text is not TOML of a venue's shape (bad syntax, an unknown, missing or mistyped
    /// field).
    pub fn syntax(text: String, e: &toml::de::Error) -> Self {
        let (line, field) = match e.span() {
            Some(span) => syntax_location(&text, span.start),
            None => (None, None),
        };
        let field = match (field, line) {
            (Some(f), Some(l)) => format!("{f} (line {l})"),
            (None, Some(l)) => format!("line {l}"),
            (Some(f), None) => f,
            (None, None) => "venue".to_owned(),
        };
        Self {
            error: Some(
                "The venue was not saved: the text is not a venue in TOML (a syntax error, or an \
                 unknown, missing or mistyped field)."
                    .to_owned(),
            ),
            syntax: Some(e.to_string().trim_end().to_owned()),
            problems: vec![VenueProblemView {
                field,
                message: e.message().to_owned(),
            }],
            text,
        }
    }

    /// The venue was read but is not valid; `spec` names the rooms, products and answers the
    /// problems' fields point at.
    pub fn invalid(text: String, e: &VenueError, spec: Option<&VenueSpec>) -> Self {
        let error = Some("The venue was not saved: it has problems.".to_owned());
        match e {
            VenueError::Syntax(message) => Self {
                text,
                error,
                syntax: Some(message.clone()),
                problems: Vec::new(),
            },
            VenueError::Invalid(problems) => Self {
                text,
                error,
                syntax: None,
                problems: problems
                    .iter()
                    .map(|p| VenueProblemView {
                        field: spec
                            .map_or_else(|| p.field.clone(), |s| labelled_field(&p.field, s)),
                        message: p.message.clone(),
                    })
                    .collect(),
            },
        }
    }
}

/// `rooms[1].capacity_min` → `rooms[1] (room_b).capacity_min`: the room, product or answer an
/// index stands for, when the spec has it.
pub fn labelled_field(field: &str, spec: &VenueSpec) -> String {
    let Some((list, rest)) = field.split_once('[') else {
        return field.to_owned();
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return field.to_owned();
    };
    let Ok(i) = index.parse::<usize>() else {
        return field.to_owned();
    };
    let label = match list {
        "rooms" => spec.rooms.get(i).map(|r| r.id.to_string()),
        "products" => spec.products.get(i).map(|p| p.id.to_string()),
        "faq" => spec.faq.get(i).map(|q| q.topic.clone()),
        _ => None,
    };
    match label.filter(|l| !l.trim().is_empty()) {
        Some(l) => format!("{list}[{i}] ({l}){tail}"),
        None => field.to_owned(),
    }
}

/// Where in `text` the byte `at` lies: its line (from 1) and the field there, as far as the lines
/// tell: the table headers before it (`[[rooms]]` counted, so the second is `rooms[1]`) and the
/// key on its line (`rooms[1].capacity_max`). Lines inside multi-line strings are skipped.
pub fn syntax_location(text: &str, at: usize) -> (Option<usize>, Option<String>) {
    if at > text.len() || !text.is_char_boundary(at) {
        return (None, None);
    }
    let before = &text[..at];
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line = text[line_start..line_end].trim();
    // The table the line belongs to, and how many of each array of tables came before.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut table = String::new();
    let mut in_multiline = false;
    for l in text[..line_start].lines() {
        let quotes = l.matches("\"\"\"").count() + l.matches("'''").count();
        if in_multiline {
            in_multiline = quotes % 2 == 0;
            continue;
        }
        if quotes % 2 == 1 {
            in_multiline = true;
            continue;
        }
        if let Some(name) = header(l, "[[", "]]") {
            *counts.entry(name.clone()).or_insert(0) += 1;
            table = indexed(&name, &counts);
        } else if let Some(name) = header(l, "[", "]") {
            table = indexed(&name, &counts);
        }
    }
    let field = if let Some(name) = header(line, "[[", "]]") {
        // The table that starts here (the one a missing field is missing from).
        *counts.entry(name.clone()).or_insert(0) += 1;
        Some(indexed(&name, &counts))
    } else if let Some(name) = header(line, "[", "]") {
        Some(indexed(&name, &counts))
    } else if line.starts_with('[') {
        // A header that does not close: the parser's message says what is wrong with it.
        None
    } else {
        match line.split_once('=') {
            Some((key, _)) if is_key(key.trim()) && table.is_empty() => Some(key.trim().to_owned()),
            Some((key, _)) if is_key(key.trim()) => Some(format!("{table}.{}", key.trim())),
            _ => (!table.is_empty()).then_some(table),
        }
    };
    (Some(line_no), field)
}

/// The dotted name of a `[name]` or `[[name]]` line (a comment may follow).
fn header(line: &str, open: &str, close: &str) -> Option<String> {
    let line = line.split('#').next().unwrap_or_default().trim();
    let name = line.strip_prefix(open)?.strip_suffix(close)?.trim();
    is_key(name).then(|| name.split('.').map(str::trim).collect::<Vec<_>>().join("."))
}

/// A bare key, possibly dotted.
fn is_key(key: &str) -> bool {
    key.split('.').all(|part| {
        let part = part.trim();
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// `rooms.layouts` → `rooms[1].layouts` once two `[[rooms]]` came before.
fn indexed(name: &str, counts: &BTreeMap<String, usize>) -> String {
    let mut path = String::new();
    let mut prefix = String::new();
    for part in name.split('.') {
        if !prefix.is_empty() {
            prefix.push('.');
            path.push('.');
        }
        prefix.push_str(part);
        path.push_str(part);
        if let Some(n) = counts.get(&prefix).filter(|n| **n > 0) {
            path.push_str(&format!("[{}]", n - 1));
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use openevent_core::money::Money;

    use super::*;

    fn fact<'a>(facts: &'a [Fact], label: &str) -> &'a str {
        &facts.iter().find(|f| f.label == label).unwrap().value
    }

    #[test]
    fn percentages_come_from_basis_points() {
        assert_eq!(percent(810), "8.1 %");
        assert_eq!(percent(3000), "30 %");
        assert_eq!(percent(250), "2.5 %");
        assert_eq!(percent(1), "0.01 %");
        assert_eq!(percent(0), "0 %");
    }

    #[test]
    fn the_atelier_reads_as_its_file_says() {
        let v = venue_view(&Venue::atelier());
        assert_eq!(v.name, "The Atelier");
        assert_eq!(fact(&v.facts, "Time zone"), "Europe/Zurich");
        assert_eq!(fact(&v.facts, "VAT"), "8.1 %, included in the prices");
        assert_eq!(fact(&v.facts, "Operating hours"), "08:00–23:00 every day");
        assert_eq!(
            fact(&v.facts, "Offers"),
            "valid for 14 days, payment within 30 days"
        );
        let a = &v.rooms[0];
        assert_eq!(
            (
                a.name.as_str(),
                a.capacity.as_str(),
                a.full_day_rate.as_str()
            ),
            ("Room A", "12–40", "CHF 500.00")
        );
        assert_eq!(a.layouts, ["Theatre 40", "U shape 22", "Workshop 28"]);
        assert_eq!(a.buffers, "30 min before, 30 min after");
        assert_eq!(v.rooms[4].full_day_rate, "CHF 1'650.00");
        let prosecco = v.products.iter().find(|p| p.id == "prosecco").unwrap();
        assert_eq!(prosecco.rooms, "Not in Room A");
        assert_eq!(prosecco.unit, "Per bottle");
        assert_eq!(prosecco.price, "CHF 35.00");
        let coffee = v
            .products
            .iter()
            .find(|p| p.id == "basic_coffee_tea")
            .unwrap();
        assert_eq!(coffee.price, "CHF 8.50");
        assert_eq!(coffee.rooms, "All rooms");
        assert_eq!(fact(&v.deposit, "Deposit"), "Not asked for (off)");
        assert_eq!(fact(&v.deposit, "Amount"), "30 % of the offer total");
        assert!(fact(&v.deposit, "Due").starts_with("10 days before"));
        assert_eq!(v.blackout_dates[0], "Thu 24.12.2026");
        assert_eq!(
            fact(&v.site_visits, "Days"),
            "Monday, Tuesday, Wednesday, Thursday, Friday"
        );
        assert_eq!(fact(&v.site_visits, "Times"), "10:00, 14:00, 16:00");
        assert_eq!(fact(&v.site_visits, "Notice"), "at least 2 days ahead");
        assert_eq!(v.faq[0].topic, "Parking");
        assert_eq!(v.faq[0].answers.len(), 2);
        assert_eq!(v.faq[0].answers[1].label, "German");
        assert!(v.auto_approve.is_empty());
    }

    #[test]
    fn a_fixed_deposit_shows_its_amount() {
        let d = DepositPolicy {
            enabled: true,
            kind: DepositKind::Fixed,
            percent: 0,
            fixed_chf: Some(Money::from_rappen(123_450)),
            due_days_before: 1,
        };
        let facts = deposit_facts(&d);
        assert_eq!(
            fact(&facts, "Deposit"),
            "Asked for with every accepted offer"
        );
        assert_eq!(
            fact(&facts, "Amount"),
            "CHF 1'234.50 per booking, at most the offer total"
        );
        assert!(fact(&facts, "Due").starts_with("1 day before"));
    }

    fn edited(from: &str, to: &str) -> String {
        let text = Venue::atelier().to_toml();
        assert!(text.contains(from), "{from}");
        text.replacen(from, to, 1)
    }

    fn syntax_problem(text: String) -> VenueForm {
        let e = toml::from_str::<VenueSpec>(&text).unwrap_err();
        VenueForm::syntax(text, &e)
    }

    fn field(f: &VenueForm) -> &str {
        &f.problems[0].field
    }

    #[test]
    fn a_syntax_error_names_the_field_it_stopped_at() {
        // An unknown field in the second room.
        let f = syntax_problem(edited(
            "full_day_rate_chf = \"750.00\"",
            "full_day_rate_chf = \"750.00\"\nbogus = 1",
        ));
        assert!(f.has_errors());
        assert!(
            field(&f).starts_with("rooms[1].bogus (line "),
            "{}",
            field(&f)
        );
        assert!(f.problems[0].message.contains("unknown field `bogus`"));
        assert!(
            f.syntax
                .as_deref()
                .unwrap()
                .contains("TOML parse error at line")
        );
        // A mistyped value.
        let f = syntax_problem(edited("capacity_max = 60", "capacity_max = \"x\""));
        assert!(
            field(&f).starts_with("rooms[1].capacity_max"),
            "{}",
            field(&f)
        );
        // A layout that does not exist, in the first room's layouts table.
        let f = syntax_problem(edited("u_shape = 22", "u_shape = 22\nweird = 3"));
        assert!(
            field(&f).starts_with("rooms[0].layouts.weird"),
            "{}",
            field(&f)
        );
        // A missing field: the table it is missing from.
        let f = syntax_problem(edited("full_day_rate_chf = \"750.00\"\n", ""));
        assert!(field(&f).starts_with("rooms[1] (line "), "{}", field(&f));
        assert!(
            f.problems[0]
                .message
                .contains("missing field `full_day_rate_chf`")
        );
        // A key at the top, and a bad time in a table.
        let f = syntax_problem(edited("vat_percent = \"8.10\"", "vat_percent = \"abc\""));
        assert_eq!(field(&f), "vat_percent (line 5)");
        let f = syntax_problem(edited("open = \"08:00\"", "open = \"25:00\""));
        assert!(
            field(&f).starts_with("operating_hours.open (line "),
            "{}",
            field(&f)
        );
        // An unclosed header is only a line.
        let f = syntax_problem(edited("[offer]", "[offer"));
        assert!(field(&f).starts_with("line "), "{}", field(&f));
    }

    #[test]
    fn syntax_locations_count_arrays_of_tables_and_skip_multiline_strings() {
        let head = "[[faq]]\ntopic = \"a\"\n[faq.answer]\nen = \"x\"\n[[faq]]\n[faq.answer]\n";
        let text = format!("{head}en = 1\n");
        let (line, field) = syntax_location(&text, head.len() + 5);
        assert_eq!(
            (line, field.as_deref()),
            (Some(7), Some("faq[1].answer.en"))
        );
        // A header-looking line inside a multi-line string is text.
        let text = "a = \"\"\"\n[[rooms]]\n\"\"\"\nb = x\n";
        let (line, field) = syntax_location(text, text.find('x').unwrap());
        assert_eq!((line, field.as_deref()), (Some(4), Some("b")));
        // Out of range or inside a character: nothing.
        assert_eq!(syntax_location("é", 1), (None, None));
        assert_eq!(syntax_location("a", 5), (None, None));
    }

    #[test]
    fn problems_name_the_room_or_product_they_are_about() {
        let venue = Venue::atelier();
        let spec = venue.spec();
        assert_eq!(
            labelled_field("rooms[1].capacity_min", spec),
            "rooms[1] (room_b).capacity_min"
        );
        assert_eq!(
            labelled_field("products[0].price_chf", spec),
            format!("products[0] ({}).price_chf", spec.products[0].id)
        );
        assert_eq!(labelled_field("faq[0]", spec), "faq[0] (parking)");
        assert_eq!(labelled_field("rooms[99].name", spec), "rooms[99].name");
        assert_eq!(labelled_field("operating_hours", spec), "operating_hours");
        assert_eq!(
            labelled_field("site_visits.times[0]", spec),
            "site_visits.times[0]"
        );
        let e = VenueError::Invalid(vec![openevent_core::venue::VenueProblem {
            field: "rooms[0].name".into(),
            message: "must not be empty".into(),
        }]);
        let f = VenueForm::invalid("x".into(), &e, Some(spec));
        assert_eq!(field(&f), "rooms[0] (room_a).name");
        assert_eq!(f.text, "x");
    }
}
