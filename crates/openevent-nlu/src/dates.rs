//! Event dates: numeric (17.03.2026, 17.3.26, 2026-03-17), month names in five languages
//! ("17 March 2026", "March 17, 2026", "17. März", "17 de marzo de 2026"), ranges
//! ("12-13 June 2026", "12.–13.06.2026"), and relative dates ("tomorrow", "in 2 Wochen",
//! "next Friday") resolved against the venue-local `today`.
//!
//! Rules:
//! - a date without a year is the next occurrence on or after today;
//! - explicit dates win over relative ones; among each kind, the first by position;
//! - a date the client moves away from ("instead of 17 March", "statt am 17.") loses to another;
//! - dates in a payment sentence ("paid on 05.02.2026", "am 5.2. überwiesen") or after a
//!   site-visit word ("visit on 3 December") are not the event date.
//!
//! Every date-like span is masked so later extractors never read its digits.

use std::sync::LazyLock;

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use regex::Captures;

use crate::text::{Re, mask, number_word};

const MONTHS: &[(&str, i8)] = &[
    ("january", 1),
    ("jan", 1),
    ("januar", 1),
    ("jänner", 1),
    ("janvier", 1),
    ("gennaio", 1),
    ("enero", 1),
    ("february", 2),
    ("feb", 2),
    ("februar", 2),
    ("février", 2),
    ("fevrier", 2),
    ("febbraio", 2),
    ("febrero", 2),
    ("march", 3),
    ("mar", 3),
    ("märz", 3),
    ("maerz", 3),
    ("mars", 3),
    ("marzo", 3),
    ("april", 4),
    ("apr", 4),
    ("avril", 4),
    ("aprile", 4),
    ("abril", 4),
    ("may", 5),
    ("mai", 5),
    ("maggio", 5),
    ("mayo", 5),
    ("june", 6),
    ("jun", 6),
    ("juni", 6),
    ("juin", 6),
    ("giugno", 6),
    ("junio", 6),
    ("july", 7),
    ("jul", 7),
    ("juli", 7),
    ("juillet", 7),
    ("luglio", 7),
    ("julio", 7),
    ("august", 8),
    ("aug", 8),
    ("août", 8),
    ("aout", 8),
    ("agosto", 8),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("septembre", 9),
    ("settembre", 9),
    ("septiembre", 9),
    ("setiembre", 9),
    ("october", 10),
    ("oct", 10),
    ("oktober", 10),
    ("okt", 10),
    ("octobre", 10),
    ("ottobre", 10),
    ("octubre", 10),
    ("november", 11),
    ("nov", 11),
    ("novembre", 11),
    ("noviembre", 11),
    ("december", 12),
    ("dec", 12),
    ("dezember", 12),
    ("dez", 12),
    ("décembre", 12),
    ("decembre", 12),
    ("dicembre", 12),
    ("diciembre", 12),
];

const WEEKDAYS: &[(&str, Weekday)] = &[
    ("monday", Weekday::Monday),
    ("montag", Weekday::Monday),
    ("lundi", Weekday::Monday),
    ("lunedì", Weekday::Monday),
    ("lunedi", Weekday::Monday),
    ("lunes", Weekday::Monday),
    ("tuesday", Weekday::Tuesday),
    ("dienstag", Weekday::Tuesday),
    ("mardi", Weekday::Tuesday),
    ("martedì", Weekday::Tuesday),
    ("martedi", Weekday::Tuesday),
    ("martes", Weekday::Tuesday),
    ("wednesday", Weekday::Wednesday),
    ("mittwoch", Weekday::Wednesday),
    ("mercredi", Weekday::Wednesday),
    ("mercoledì", Weekday::Wednesday),
    ("mercoledi", Weekday::Wednesday),
    ("miércoles", Weekday::Wednesday),
    ("miercoles", Weekday::Wednesday),
    ("thursday", Weekday::Thursday),
    ("donnerstag", Weekday::Thursday),
    ("jeudi", Weekday::Thursday),
    ("giovedì", Weekday::Thursday),
    ("giovedi", Weekday::Thursday),
    ("jueves", Weekday::Thursday),
    ("friday", Weekday::Friday),
    ("freitag", Weekday::Friday),
    ("vendredi", Weekday::Friday),
    ("venerdì", Weekday::Friday),
    ("venerdi", Weekday::Friday),
    ("viernes", Weekday::Friday),
    ("saturday", Weekday::Saturday),
    ("samstag", Weekday::Saturday),
    ("samedi", Weekday::Saturday),
    ("sabato", Weekday::Saturday),
    ("sábado", Weekday::Saturday),
    ("sabado", Weekday::Saturday),
    ("sunday", Weekday::Sunday),
    ("sonntag", Weekday::Sunday),
    ("dimanche", Weekday::Sunday),
    ("domenica", Weekday::Sunday),
    ("domingo", Weekday::Sunday),
];

static WEEKDAY_ALT: LazyLock<String> = LazyLock::new(|| alternation(WEEKDAYS.iter().map(|w| w.0)));

/// "a Friday in March", "einen Freitag im März", "un vendredi en mars", "un venerdì a marzo".
static WEEKDAY_IN_MONTH: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b({})s?\b[^.\n]{{0,20}}?\b(?:in|im|en|a|de|di|of|during)\s+({})\b",
        *WEEKDAY_ALT, *MONTH_ALT
    ))
});

/// "sometime in June", "im Juni", "en juin", "a giugno", "en junio".
static IN_MONTH: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b(?:in|im|en|a|di|de|during|anfang|mitte|ende|early|mid|late)\s+({})\b(?:\s*(\d{{4}}))?",
        *MONTH_ALT
    ))
});

/// A wish about the date when no date was named. Reads text whose dates were already masked.
pub fn preference(lower: &str) -> Option<openevent_core::understanding::DatePreference> {
    use openevent_core::venue::WeekdayName;
    let name = |w: Weekday| match w {
        Weekday::Monday => WeekdayName::Mon,
        Weekday::Tuesday => WeekdayName::Tue,
        Weekday::Wednesday => WeekdayName::Wed,
        Weekday::Thursday => WeekdayName::Thu,
        Weekday::Friday => WeekdayName::Fri,
        Weekday::Saturday => WeekdayName::Sat,
        Weekday::Sunday => WeekdayName::Sun,
    };
    if let Some(c) = WEEKDAY_IN_MONTH.captures(lower) {
        let weekday = WEEKDAYS
            .iter()
            .find(|(w, _)| *w == &c[1])
            .map(|(_, d)| name(*d));
        return Some(openevent_core::understanding::DatePreference {
            weekday,
            month: month(&c[2]),
        });
    }
    let c = IN_MONTH.captures(lower)?;
    Some(openevent_core::understanding::DatePreference {
        weekday: None,
        month: Some(month(&c[1])?),
    })
}

fn alternation(words: impl Iterator<Item = &'static str>) -> String {
    let mut v: Vec<&str> = words.collect();
    v.sort_by_key(|w| std::cmp::Reverse(w.len()));
    v.join("|")
}

static MONTH_ALT: LazyLock<String> = LazyLock::new(|| alternation(MONTHS.iter().map(|m| m.0)));

const ORD: &str = r"(?:st|nd|rd|th|\.|er|º|°)?";
const RANGE_SEP: &str = r"\s*(?:-|–|—|to|till|until|bis|au|al|a|y|and|und|et|e)\s*";

static DAY_MONTH: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b(?:the\s+)?(\d{{1,2}}){ORD}(?:{RANGE_SEP}(?:the\s+)?(\d{{1,2}}){ORD})?\s*(?:de\s+|of\s+)?({m})\b\.?(?:,?\s*(?:de\s+|del\s+)?(\d{{4}})\b)?",
        m = *MONTH_ALT
    ))
});

static ALT_DAY_MONTH: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b(\d{{1,2}}){ORD}\s*(?:or|oder|ou|o|/)\s*(?:the\s+)?\d{{1,2}}{ORD}\s*(?:de\s+|of\s+)?({m})\b\.?(?:,?\s*(?:de\s+|del\s+)?(\d{{4}})\b)?",
        m = *MONTH_ALT
    ))
});

static MONTH_DAY: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b({m})\b\.?\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?(?:\s*(?:-|–|to|and)\s*(\d{{1,2}})(?:st|nd|rd|th)?)?\b(?:,?\s*(\d{{4}})\b)?",
        m = *MONTH_ALT
    ))
});

static NUMERIC_RANGE: LazyLock<Re> = LazyLock::new(|| {
    Re::new(r"\b(\d{1,2})\.?\s*(?:-|–|—|bis)\s*(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})?")
});

static NUMERIC: LazyLock<Re> =
    LazyLock::new(|| Re::new(r"\b(\d{1,2})([./])(\d{1,2})[./](\d{4}|\d{2})?"));

static ISO: LazyLock<Re> = LazyLock::new(|| Re::new(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"));

static RELATIVE_DAY: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"\b(?:day after tomorrow|übermorgen|après-demain|apres-demain|dopodomani|pasado mañana|tomorrow|morgen|demain|domani|mañana)\b",
    )
});

static IN_N: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"\b(?:in|dans|tra|fra|en)\s+(\d{1,2}|[a-zäöüéè]+)\s+(days?|weeks?|tagen|tage|wochen|woche|jours?|semaines?|giorni|settimane?|días|dias|semanas?)\b",
    )
});

static WEEKDAY: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b(on|next|this|coming|this coming|am|nächsten|nächster|kommenden|diesen|diesem|le|ce|il|questo|el|este|el próximo|el proximo|il prossimo)\s+({w})\b(\s+(?:prochain|prossimo|next week|nächste woche))?",
        w = alternation(WEEKDAYS.iter().map(|w| w.0))
    ))
});

static PAYMENT_WORDS: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"\b(?:paid|pay|payment|transferred|transfer|deposit|invoice|bezahlt|bezahlen|zahlung|einbezahlt|überwiesen|überweisung|anzahlung|rechnung|payé|payée|réglé|versé|virement|paiement|acompte|facture|pagato|pagamento|bonifico|versato|acconto|fattura|pagado|pago|transferencia|depósito|anticipo|factura|offer from|offerte vom|angebot vom|valid until|gültig bis)\b",
    )
});

static VISIT_WORDS: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"\b(?:site visit|viewing|visit|come by|see the rooms?|see the space|look at the rooms?|in person|besichtigung|besichtigen|vorbeikommen|visite|visiter|sopralluogo|visitare|visita|visitar)\b",
    )
});

static OLD_MARKER: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?:instead of|rather than|not on|not the|statt|anstatt|anstelle|nicht am|nicht den|au lieu du|au lieu de|pas le|invece del|invece di|non il|en lugar del|en vez del|no el|from|vom|von|du|dal|del)\s*(?:the\s+|dem\s+|den\s+|le\s+|il\s+|el\s+)?$",
    )
});

#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    date: Date,
    end: Option<Date>,
    explicit: bool,
    old: bool,
}

/// The event date and, for a range, its last day. Masks every date-like span in `lower`.
pub fn extract(lower: &mut String, today: Date) -> (Option<Date>, Option<Date>) {
    let mut hits: Vec<Hit> = Vec::new();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let seps = DigitSeparators::of(lower);
    if seps.dot {
        scan(lower, &NUMERIC_RANGE, &mut spans, &mut hits, |c| {
            let y = year(c.get(4).map(|m| m.as_str()));
            let m = num(c, 3)?;
            let (d1, d2) = (num(c, 1)?, num(c, 2)?);
            range(y, m, d1, d2, today)
        });
    }
    if seps.digit {
        scan(lower, &ALT_DAY_MONTH, &mut spans, &mut hits, |c| {
            let m = month(c.get(2)?.as_str())?;
            let y = year(c.get(3).map(|m| m.as_str()));
            Some((civil(y, m, num(c, 1)?, today)?, None))
        });
    }
    if seps.digit {
        scan(lower, &DAY_MONTH, &mut spans, &mut hits, |c| {
            let m = month(c.get(3)?.as_str())?;
            let y = year(c.get(4).map(|m| m.as_str()));
            match c.get(2) {
                Some(d2) => range(y, m, num(c, 1)?, d2.as_str().parse().ok()?, today),
                None => Some((civil(y, m, num(c, 1)?, today)?, None)),
            }
        });
    }
    if seps.digit {
        scan(lower, &MONTH_DAY, &mut spans, &mut hits, |c| {
            let m = month(c.get(1)?.as_str())?;
            let y = year(c.get(4).map(|m| m.as_str()));
            match c.get(3) {
                Some(d2) => range(y, m, num(c, 2)?, d2.as_str().parse().ok()?, today),
                None => Some((civil(y, m, num(c, 2)?, today)?, None)),
            }
        });
    }
    if seps.dash {
        scan(lower, &ISO, &mut spans, &mut hits, |c| {
            let y: i16 = c.get(1)?.as_str().parse().ok()?;
            Some((Date::new(y, num(c, 2)?, num(c, 3)?).ok()?, None))
        });
    }
    if seps.dot || seps.slash {
        scan(lower, &NUMERIC, &mut spans, &mut hits, |c| {
            // "17/03" without a year is more often a fraction or a ratio than a date.
            if c.get(2)?.as_str() == "/" && c.get(4).is_none() {
                return None;
            }
            let whole = c.get(0)?;
            if whole.as_str().ends_with('.') && c.get(4).is_none() {
                // "17.3." needs its closing dot; "4.5" alone is a number.
            } else if c.get(4).is_none() {
                return None;
            }
            Some((
                civil(
                    year(c.get(4).map(|m| m.as_str())),
                    num(c, 3)?,
                    num(c, 1)?,
                    today,
                )?,
                None,
            ))
        });
    }
    let explicit_count = hits.len();
    scan(lower, &RELATIVE_DAY, &mut spans, &mut hits, |c| {
        let m = c.get(0)?;
        let offset = match m.as_str() {
            "day after tomorrow" | "übermorgen" | "après-demain" | "apres-demain"
            | "dopodomani" | "pasado mañana" => 2,
            _ => 1,
        };
        Some((today.checked_add(offset.days()).ok()?, None))
    });
    scan(lower, &IN_N, &mut spans, &mut hits, |c| {
        let raw = c.get(1)?.as_str();
        let n: i64 = raw
            .parse()
            .ok()
            .or_else(|| number_word(raw).map(i64::from))
            .or(matches!(raw, "einer" | "a" | "une").then_some(1))?;
        let unit = c.get(2)?.as_str();
        let days = if unit.starts_with("week")
            || unit.starts_with("woche")
            || unit.starts_with("semaine")
            || unit.starts_with("settiman")
            || unit.starts_with("semana")
        {
            n * 7
        } else {
            n
        };
        Some((today.checked_add(days.days()).ok()?, None))
    });
    scan(lower, &WEEKDAY, &mut spans, &mut hits, |c| {
        let name = c.get(2)?.as_str();
        let wd = WEEKDAYS.iter().find(|w| w.0 == name)?.1;
        let mut d = today.nth_weekday(1, wd).ok()?;
        if c.get(3)
            .is_some_and(|m| m.as_str().contains("woche") || m.as_str().contains("week"))
        {
            d = d.checked_add(7.days()).ok()?;
        }
        Some((d, None))
    });
    for h in hits.iter_mut().skip(explicit_count) {
        h.explicit = false;
    }
    let best = hits
        .iter()
        .filter(|h| !h.old)
        .min_by_key(|h| (!h.explicit, h.start))
        .or_else(|| hits.iter().min_by_key(|h| (!h.explicit, h.start)));
    match best {
        Some(h) => (Some(h.date), h.end),
        None => (None, None),
    }
}

/// Whether the text has a digit, and which of `.`, `/`, `-` occur between two digits. The numeric patterns need one of them
/// ("17.03.", "17/03/", "2026-03-"), so a pass is skipped when its separator never occurs.
/// Only decided on ASCII text (where `\d` is `[0-9]`); otherwise every pass runs. Computed
/// before any masking: masking only removes digits, so this is a superset.
struct DigitSeparators {
    /// Any digit: every explicit-date pattern needs one.
    digit: bool,
    dot: bool,
    slash: bool,
    dash: bool,
}

impl DigitSeparators {
    fn of(text: &str) -> Self {
        if !text.is_ascii() {
            return Self {
                digit: true,
                dot: true,
                slash: true,
                dash: true,
            };
        }
        let mut seps = Self {
            digit: text.bytes().any(|b| b.is_ascii_digit()),
            dot: false,
            slash: false,
            dash: false,
        };
        for w in text.as_bytes().windows(3) {
            if w[0].is_ascii_digit() && w[2].is_ascii_digit() {
                match w[1] {
                    b'.' => seps.dot = true,
                    b'/' => seps.slash = true,
                    b'-' => seps.dash = true,
                    _ => {}
                }
            }
        }
        seps
    }
}

/// Runs one pattern over the (partly masked) text, records the dates that are event dates,
/// and queues every matched span for masking.
fn scan(
    lower: &mut String,
    re: &Re,
    spans: &mut Vec<(usize, usize)>,
    hits: &mut Vec<Hit>,
    parse: impl Fn(&Captures<'_>) -> Option<(Date, Option<Date>)>,
) {
    let mut local = Vec::new();
    for c in re.captures_iter(lower) {
        let m = c.get(0).expect("group 0");
        let before = &lower[..m.start()];
        if before.ends_with(['.', '/', '-', ','])
            && before[..before.len() - 1].ends_with(|ch: char| ch.is_ascii_digit())
        {
            continue; // part of a longer number: "1.2.3.4", "CHF 1,500.-"
        }
        if lower[m.end()..].starts_with(|ch: char| ch.is_ascii_digit()) {
            continue;
        }
        if !relative_word_is_a_date(before, m.as_str()) {
            continue;
        }
        let Some((date, end)) = parse(&c) else {
            continue;
        };
        local.push((m.start(), m.end()));
        if excluded(lower, m.start(), m.end()) {
            continue;
        }
        let mut tail_start = before.len().saturating_sub(24);
        while !before.is_char_boundary(tail_start) {
            tail_start += 1;
        }
        let tail = &before[tail_start..];
        hits.push(Hit {
            start: m.start(),
            date,
            end,
            explicit: true,
            old: OLD_MARKER.is_match(tail),
        });
    }
    for &(s, e) in &local {
        mask(lower, s..e);
    }
    spans.extend(local);
}

/// "Guten Morgen", "am Morgen", "por la mañana": the word is a time of day, not tomorrow.
fn relative_word_is_a_date(before: &str, word: &str) -> bool {
    let b = before.trim_end();
    match word {
        "morgen" => !(b.ends_with("guten") || b.ends_with("am") || b.ends_with("einen schönen")),
        "mañana" => !(b.ends_with("la") || b.ends_with("buenos días, esta")),
        _ => true,
    }
}

/// Payment and site-visit sentences hold dates that are not the event's.
fn excluded(lower: &str, start: usize, end: usize) -> bool {
    let sentence_start = lower[..start]
        .rfind(['\n', '!', '?', ';'])
        .map_or(0, |i| i + 1)
        .max(lower[..start].rfind(". ").map_or(0, |i| i + 2));
    let mut sentence_end = lower[end..]
        .find(['\n', '!', '?', ';'])
        .map_or(lower.len(), |i| end + i);
    if let Some(i) = lower[end..sentence_end].find(". ") {
        sentence_end = end + i;
    }
    let before = &lower[sentence_start..start];
    let after_end = (end + 30).min(sentence_end);
    let after = lower.get(end..after_end).unwrap_or("");
    PAYMENT_WORDS.is_match(before) || PAYMENT_WORDS.is_match(after) || VISIT_WORDS.is_match(before)
}

fn num(c: &Captures<'_>, i: usize) -> Option<i8> {
    c.get(i)?.as_str().parse().ok()
}

fn month(name: &str) -> Option<i8> {
    MONTHS.iter().find(|m| m.0 == name).map(|m| m.1)
}

fn year(raw: Option<&str>) -> Option<i16> {
    let raw = raw?;
    let y: i16 = raw.parse().ok()?;
    Some(if raw.len() == 2 { 2000 + y } else { y })
}

/// A civil date; without a year, the next occurrence on or after today.
fn civil(y: Option<i16>, m: i8, d: i8, today: Date) -> Option<Date> {
    match y {
        Some(y) if (1900..=2200).contains(&y) => Date::new(y, m, d).ok(),
        Some(_) => None,
        None => {
            let this = Date::new(today.year(), m, d).ok();
            match this {
                Some(date) if date >= today => Some(date),
                _ => Date::new(today.year() + 1, m, d).ok(),
            }
        }
    }
}

fn range(y: Option<i16>, m: i8, d1: i8, d2: i8, today: Date) -> Option<(Date, Option<Date>)> {
    let start = civil(y, m, d1, today)?;
    let end = Date::new(start.year(), m, d2).ok()?;
    if end <= start || (end - start).get_days() > 14 {
        return None;
    }
    Some((start, Some(end)))
}

#[cfg(test)]
mod preference_tests {
    use super::*;
    use openevent_core::venue::WeekdayName;

    #[test]
    fn weekday_in_month_in_five_languages() {
        for text in [
            "could we do a friday in march?",
            "gerne an einem freitag im märz",
            "un vendredi en mars",
            "un venerdì a marzo",
            "un viernes de marzo",
        ] {
            let p = preference(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(p.weekday, Some(WeekdayName::Fri), "{text}");
            assert_eq!(p.month, Some(3), "{text}");
        }
        let p = preference("sometime in june would be great").unwrap();
        assert_eq!((p.weekday, p.month), (None, Some(6)));
        assert!(preference("we have 20 people").is_none());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn today() -> Date {
        date(2026, 11, 22) // a Sunday
    }

    fn first(text: &str) -> (Option<Date>, Option<Date>) {
        let mut s = text.to_lowercase();
        extract(&mut s, today())
    }

    #[test]
    fn numeric_and_iso() {
        assert_eq!(first("am 17.03.2026").0, Some(date(2026, 3, 17)));
        assert_eq!(first("on 17.3.26 please").0, Some(date(2026, 3, 17)));
        assert_eq!(first("date: 2026-03-17").0, Some(date(2026, 3, 17)));
        assert_eq!(first("am 17.3. abends").0, Some(date(2027, 3, 17)));
        assert_eq!(first("17/03/2027").0, Some(date(2027, 3, 17)));
        assert_eq!(first("version 1.2.3.4 and 4.5"), (None, None));
    }

    #[test]
    fn month_names_in_five_languages() {
        for t in [
            "17 March 2026",
            "March 17, 2026",
            "17. März 2026",
            "17 mars 2026",
            "17 marzo 2026",
            "17 de marzo de 2026",
            "the 17th of March 2026",
        ] {
            assert_eq!(first(t).0, Some(date(2026, 3, 17)), "{t}");
        }
        // without a year: the next occurrence on or after today
        assert_eq!(first("on 17 March").0, Some(date(2027, 3, 17)));
        assert_eq!(first("on 3 December").0, Some(date(2026, 12, 3)));
        assert_eq!(first("on 22 November").0, Some(date(2026, 11, 22)));
        assert_eq!(first("31 February 2026").0, None);
    }

    #[test]
    fn ranges() {
        assert_eq!(
            first("12-13 June 2026"),
            (Some(date(2026, 6, 12)), Some(date(2026, 6, 13)))
        );
        assert_eq!(
            first("12.–13.06.2026"),
            (Some(date(2026, 6, 12)), Some(date(2026, 6, 13)))
        );
        assert_eq!(
            first("June 12-13, 2026"),
            (Some(date(2026, 6, 12)), Some(date(2026, 6, 13)))
        );
        assert_eq!(
            first("del 12 al 13 de junio de 2026"),
            (Some(date(2026, 6, 12)), Some(date(2026, 6, 13)))
        );
    }

    #[test]
    fn relative_dates_follow_the_venue_calendar() {
        assert_eq!(first("tomorrow at 10").0, Some(date(2026, 11, 23)));
        assert_eq!(first("geht es morgen?").0, Some(date(2026, 11, 23)));
        assert_eq!(first("Guten Morgen Frau Keller").0, None);
        assert_eq!(first("in two weeks").0, Some(date(2026, 12, 6)));
        assert_eq!(first("in 2 Wochen").0, Some(date(2026, 12, 6)));
        assert_eq!(first("next Friday").0, Some(date(2026, 11, 27)));
        assert_eq!(first("nächsten Freitag").0, Some(date(2026, 11, 27)));
        assert_eq!(first("vendredi prochain").0, None); // needs a leading marker
        assert_eq!(first("le vendredi prochain").0, Some(date(2026, 11, 27)));
        assert_eq!(first("Friday, 17 March 2026").0, Some(date(2026, 3, 17)));
    }

    #[test]
    fn payment_and_old_dates_are_not_the_event_date() {
        assert_eq!(first("We paid the deposit on 05.02.2026.").0, None);
        assert_eq!(
            first("Die Anzahlung haben wir am 05.02.2026 überwiesen.").0,
            None
        );
        assert_eq!(
            first("Could we move it from 17 March to 20 March 2026?").0,
            Some(date(2026, 3, 20))
        );
        assert_eq!(
            first("20.03.2026 instead of 17.03.2026").0,
            Some(date(2026, 3, 20))
        );
        assert_eq!(
            first("Statt dem 17.03. lieber am 20.03.2026").0,
            Some(date(2026, 3, 20))
        );
    }

    #[test]
    fn dates_are_masked() {
        let mut s = "on 17.03.2026 for 40 people".to_owned();
        extract(&mut s, today());
        assert!(!s.contains("17"));
        assert!(s.contains("40 people"));
    }
}
