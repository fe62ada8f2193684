//! Start and end times: "18-22", "18:00–22:00", "6pm to 10pm", "from 9 to 17", "18 Uhr",
//! "ab 14 Uhr bis 18 Uhr", "de 9h à 17h"; day parts (morning 09:00, afternoon 14:00,
//! evening 18:00) when no clock time is given. Runs after dates are masked; masks what it reads.

use std::sync::LazyLock;

use openevent_core::event::TimeOfDay;
use regex::Captures;

use crate::text::Re;
use crate::text::mask;

const CLOCK: &str =
    r"(\d{1,2})(?:[:.](\d{2})|h(\d{2}))?\s*(a\.?m\b\.?|p\.?m\b\.?|uhr\b|h\b|o'clock|hrs\b)?";

static RANGE: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b(from|von|ab|de|dès|dalle|dalla|da|desde|de las|entre|between)?\s*\b{CLOCK}\s*(-|–|—|to|till|until|bis|à|a|alle|al|a las|and|und|et|y|e|hasta)\s*{CLOCK}"
    ))
});

static SINGLE: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b(at|um|ab|from|starting at|start at|beginning at|à partir de|a partir de las|à|dès|alle|dalle|a las|desde las|until|till|bis|jusqu'à|fino alle|hasta las|end at|ending at|ends at|finish at|finish by|finishing at|end by|enden um|endet um|schluss um|fin à|fine alle|terminar a las)?(?:\s+(?:about|around|approx\.?|ca\.?|circa|gegen|vers|verso|sobre))?\s*\b{CLOCK}"
    ))
});

static PEOPLE_AFTER: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"^\s*(?:\w+\s+)?(?:people|persons|pers|guests|participants|attendees|pax|delegates|personen|gäste|teilnehm|leute|personnes|invités|persone|ospiti|partecipanti|personas|invitados|asistentes|chairs|minutes|min|%|chf|eur|fr)",
    )
});

static END_BEFORE: LazyLock<Re> =
    LazyLock::new(|| Re::new(r"\b(?:ende|end|ending|finish|schluss|fin|fine|final)\b[^.,;]*$"));

static DAYPART: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"\b(good |guten |have a nice |have a good |einen schönen |schönen |bonne |buona |buenas |buenos |a nice )?(morning|vormittag|vormittags|morgens|matin|matinée|mattina|mattinata|por la mañana|am morgen|afternoon|nachmittag|nachmittags|après-midi|pomeriggio|por la tarde|evening|abend|abends|soir|soirée|sera|serata|por la noche)\b",
    )
});

#[derive(Debug, Clone, Copy)]
struct Clock {
    hour: i8,
    minute: i8,
    has_minutes: bool,
    marker: Option<Marker>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Am,
    Pm,
    Unit,
}

fn clock(c: &Captures<'_>, first: usize) -> Option<Clock> {
    let hour: i8 = c.get(first)?.as_str().parse().ok()?;
    let min = c.get(first + 1).or(c.get(first + 2));
    let minute: i8 = min.map_or(Some(0), |m| m.as_str().parse().ok())?;
    let marker = c.get(first + 3).map(|m| {
        let s = m.as_str();
        if s.starts_with('a') {
            Marker::Am
        } else if s.starts_with('p') {
            Marker::Pm
        } else {
            Marker::Unit
        }
    });
    if hour > 24 || minute > 59 {
        return None;
    }
    Some(Clock {
        hour,
        minute,
        has_minutes: min.is_some(),
        marker,
    })
}

fn to_time(c: Clock, pm_hint: bool) -> Option<TimeOfDay> {
    let mut h = c.hour;
    match c.marker {
        Some(Marker::Pm) if h < 12 => h += 12,
        Some(Marker::Am) if h == 12 => h = 0,
        None if pm_hint && h < 12 => h += 12,
        _ => {}
    }
    if h == 24 {
        h = 0;
    }
    TimeOfDay::new(h, c.minute).ok()
}

/// Start and end time of the event; masks the spans it used.
pub fn extract(lower: &mut String) -> (Option<TimeOfDay>, Option<TimeOfDay>) {
    let mut found: Option<(usize, TimeOfDay, Option<TimeOfDay>)> = None;
    let mut used = Vec::new();
    for c in RANGE.captures_iter(lower) {
        let m = c.get(0).expect("group 0");
        let Some(a) = clock(&c, 2) else { continue };
        let Some(b) = clock(&c, 7) else { continue };
        let lead = c.get(1).is_some();
        let sep = c.get(6).map_or("", |s| s.as_str());
        let explicit = a.has_minutes || b.has_minutes || a.marker.is_some() || b.marker.is_some();
        if PEOPLE_AFTER.is_match(&lower[m.end()..]) {
            continue;
        }
        if !explicit {
            let dash = matches!(sep, "-" | "–" | "—");
            let plausible = (6..=23).contains(&a.hour) && b.hour > a.hour && b.hour <= 24;
            let lead_ok = lead && (1..=23).contains(&a.hour) && b.hour <= 24;
            if !((dash && plausible) || lead_ok) {
                continue;
            }
        } else if !lead
            && !matches!(
                sep,
                "-" | "–"
                    | "—"
                    | "to"
                    | "till"
                    | "until"
                    | "bis"
                    | "à"
                    | "a"
                    | "alle"
                    | "hasta"
                    | "a las"
                    | "al"
            )
        {
            continue;
        }
        let pm = b.marker == Some(Marker::Pm)
            && a.marker.is_none()
            && a.hour < 12
            && a.hour + 12 <= to_hour(b);
        let (Some(s), Some(e)) = (to_time(a, pm), to_time(b, false)) else {
            continue;
        };
        // "from 9 to 5": a bare end before the start is in the afternoon.
        let e = if e <= s && b.marker.is_none() && b.hour < 12 {
            TimeOfDay::new(b.hour + 12, b.minute).unwrap_or(e)
        } else {
            e
        };
        used.push(m.start()..m.end());
        if found.is_none() {
            found = Some((m.start(), s, Some(e)));
        }
    }
    for r in &used {
        mask(lower, r.clone());
    }
    if let Some((_, s, e)) = found {
        return (Some(s), e);
    }
    let mut start = None;
    let mut end = None;
    let mut used = Vec::new();
    for c in SINGLE.captures_iter(lower) {
        let m = c.get(0).expect("group 0");
        let Some(a) = clock(&c, 2) else { continue };
        let lead = c.get(1).map_or("", |l| l.as_str());
        let bare_ok = matches!(
            lead,
            "dalle"
                | "alle"
                | "a las"
                | "a partir de las"
                | "desde las"
                | "ab"
                | "um"
                | "à partir de"
                | "dès"
        ) && (6..=23).contains(&a.hour);
        if !(a.has_minutes || a.marker.is_some() || bare_ok) {
            continue;
        }
        if a.marker == Some(Marker::Unit)
            && !a.has_minutes
            && lead.is_empty()
            && c.get(5).is_some_and(|u| u.as_str() == "h")
        {
            // "24h" reception, "48h": durations more often than clock times.
            if a.hour > 23 || lower[m.end()..].trim_start().starts_with(['n', 'v', 'a']) {
                continue;
            }
        }
        if PEOPLE_AFTER.is_match(&lower[m.end()..]) {
            continue;
        }
        let Some(t) = to_time(a, false) else { continue };
        used.push(m.start()..m.end());
        let prev = lower[..m.start()].trim_end();
        if [
            ", not",
            "instead of",
            "statt",
            "nicht",
            "pas",
            "invece delle",
            "en lugar de",
        ]
        .iter()
        .any(|w| prev.ends_with(w))
        {
            continue; // the value being replaced
        }
        let after: String = lower[m.end()..].chars().take(12).collect();
        let head = &lower[..m.start()];
        let mut from = head.len().saturating_sub(24);
        while !head.is_char_boundary(from) {
            from += 1;
        }
        let end_before = END_BEFORE.is_match(&head[from..]);
        let finished_after = ["fertig", "schluss", "ende", "finished", "done"]
            .iter()
            .any(|w| after.trim_start().starts_with(w));
        if matches!(
            lead,
            "until" | "till" | "bis" | "jusqu'à" | "fino alle" | "hasta las"
        ) || lead.contains("end")
            || lead.contains("finish")
            || lead.contains("schluss")
            || lead.starts_with("fin")
            || lead.starts_with("termin")
            || finished_after
            || end_before
        {
            end = end.or(Some(t));
        } else {
            start = start.or(Some(t));
        }
    }
    for r in &used {
        mask(lower, r.clone());
    }
    if start.is_none() {
        start = daypart(lower);
    }
    (start, end)
}

fn to_hour(c: Clock) -> i8 {
    match c.marker {
        Some(Marker::Pm) if c.hour < 12 => c.hour + 12,
        _ => c.hour,
    }
}

/// Morning 09:00, afternoon 14:00, evening 18:00 — but never a greeting ("Good morning",
/// "schönen Abend", "buenas tardes").
fn daypart(lower: &str) -> Option<TimeOfDay> {
    for c in DAYPART.captures_iter(lower) {
        if c.get(1).is_some() {
            continue;
        }
        let head = lower[..c.get(0)?.start()].trim_end();
        if head.ends_with("this")
            || head.ends_with("heute")
            || head.ends_with("ce")
            || head.ends_with("sta")
        {
            continue; // "sent this morning": when the client wrote, not when the event is
        }
        let w = c.get(2)?.as_str();
        let hour = match w {
            "morning" | "am morgen" | "vormittag" | "vormittags" | "morgens" | "matin"
            | "matinée" | "mattina" | "mattinata" | "por la mañana" => 9,
            "afternoon" | "nachmittag" | "nachmittags" | "après-midi" | "pomeriggio"
            | "por la tarde" => 14,
            _ => 18,
        };
        return TimeOfDay::new(hour, 0).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> (Option<String>, Option<String>) {
        let mut l = s.to_lowercase();
        let (a, b) = extract(&mut l);
        (a.map(|x| x.to_string()), b.map(|x| x.to_string()))
    }

    fn pair(a: &str, b: &str) -> (Option<String>, Option<String>) {
        (Some(a.into()), Some(b.into()))
    }

    #[test]
    fn ranges() {
        assert_eq!(t("from 18-22"), pair("18:00", "22:00"));
        assert_eq!(t("18-22"), pair("18:00", "22:00"));
        assert_eq!(t("18:00–22:00"), pair("18:00", "22:00"));
        assert_eq!(t("6pm to 10pm"), pair("18:00", "22:00"));
        assert_eq!(t("6 to 10pm"), pair("18:00", "22:00"));
        assert_eq!(t("from 9 to 17"), pair("09:00", "17:00"));
        assert_eq!(t("from 9 to 5"), pair("09:00", "17:00"));
        assert_eq!(t("ab 14 Uhr bis 18 Uhr"), pair("14:00", "18:00"));
        assert_eq!(t("von 8.30 bis 12 Uhr"), pair("08:30", "12:00"));
        assert_eq!(t("de 9h à 17h30"), pair("09:00", "17:30"));
        assert_eq!(t("dalle 9 alle 13"), pair("09:00", "13:00"));
        assert_eq!(t("de 10:00 a 14:00"), pair("10:00", "14:00"));
    }

    #[test]
    fn singles_and_dayparts() {
        assert_eq!(t("um 18 Uhr"), (Some("18:00".into()), None));
        assert_eq!(t("starting at 7pm"), (Some("19:00".into()), None));
        assert_eq!(t("à 19h"), (Some("19:00".into()), None));
        assert_eq!(t("in the afternoon"), (Some("14:00".into()), None));
        assert_eq!(t("am Abend"), (Some("18:00".into()), None));
        assert_eq!(t("Good morning Anna"), (None, None));
        assert_eq!(t("Einen schönen Abend"), (None, None));
    }

    #[test]
    fn people_are_not_times() {
        assert_eq!(t("20-25 people"), (None, None));
        assert_eq!(t("between 30 and 40 guests"), (None, None));
        assert_eq!(t("2-3 flipcharts"), (None, None));
    }
}
