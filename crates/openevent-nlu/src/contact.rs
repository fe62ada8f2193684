//! Contact details: phone numbers (E.164 for Swiss and German numbers), the sender's name from
//! the sign-off ("Best regards,\nAnna Muster"), and a company line with a legal form.

use std::sync::LazyLock;

use openevent_core::understanding::Contact;

use crate::text::Re;

static PHONE: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?:\+|\b00)\s?\d{2,3}\s?(?:\(0\)\s?)?\d[\d \-/.]{5,15}\d\b|\b0\d{2}[ \-/.]?\d{3}[ \-.]?\d{2}[ \-.]?\d{2}\b",
    )
});

static CLOSING: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?i)^\s*(?:with best regards|with kind regards|thanks a lot|thanks so much|best regards|kind regards|warm regards|many thanks|thanks in advance|thanks again|thank you|regards|best wishes|greetings|best|cheers|thanks|thx|thank you very much|sincerely|yours sincerely|mit freundlichen grüssen|mit freundlichen grüßen|freundliche grüsse|freundliche grüße|beste grüsse|beste grüße|liebe grüsse|liebe grüße|viele grüsse|viele grüße|herzliche grüsse|herzliche grüße|gruss|gruß|grüsse|grüße|lg|mfg|danke und gruss|vielen dank|besten dank|danke|cordialement|bien cordialement|meilleures salutations|bien à vous|salutations|merci d'avance|merci|cordiali saluti|distinti saluti|saluti|un saluto|grazie mille|grazie|saludos cordiales|un saludo|saludos|atentamente|muchas gracias|gracias|besos|baci|bises|bisous)\b[\s,.!]*(.*)$",
    )
});

static LEGAL_FORM: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"\b(?:AG|GmbH|SA|Sàrl|Sarl|Ltd|LLC|Inc|S\.r\.l|Srl|SpA|S\.p\.A|S\.L|SL|KG|e\.V|plc|Genossenschaft|Stiftung|Foundation|Verein|Association|Group|Partners|& Co)\b\.?",
    )
});

/// A phone number in E.164 where the country is known (+…, 00…, or a Swiss 0XX number).
pub fn normalise_phone(raw: &str) -> Option<String> {
    let cleaned = raw.replace("(0)", "");
    let digits: String = cleaned.chars().filter(char::is_ascii_digit).collect();
    let intl = cleaned.trim_start().starts_with('+');
    let e164 = if intl {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else if let Some(rest) = digits.strip_prefix('0') {
        if rest.len() != 9 {
            return None;
        }
        format!("+41{rest}")
    } else {
        return None;
    };
    let n = e164.len() - 1;
    if e164.starts_with("+41") && n != 11 {
        return None;
    }
    (8..=15).contains(&n).then_some(e164)
}

/// Phone spans in the text (for masking) and the first phone, normalised.
pub fn phones(text: &str) -> (Option<String>, Vec<(usize, usize)>) {
    let mut first = None;
    let mut spans = Vec::new();
    for m in PHONE.find_iter(text) {
        if let Some(p) = normalise_phone(m.as_str()) {
            first = first.or(Some(p));
            spans.push((m.start(), m.end()));
        }
    }
    (first, spans)
}

/// Name and company from the sign-off block; phone from anywhere.
pub fn extract(text: &str) -> Option<Contact> {
    let (phone, _) = phones(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut name = None;
    let mut company = None;
    let is_closing = |l: &&str| {
        l.len() < 60
            && CLOSING.captures(l).is_some_and(|c| {
                let rest = c
                    .get(1)
                    .map_or("", |m| m.as_str())
                    .trim()
                    .trim_end_matches(['.', '!']);
                let chained = rest
                    .strip_prefix("and ")
                    .or_else(|| rest.strip_prefix("und "))
                    .or_else(|| rest.strip_prefix("et "))
                    .is_some_and(|r| CLOSING.is_match(r));
                let from_place = ["aus ", "from ", "de ", "da ", "desde "]
                    .iter()
                    .any(|p| rest.starts_with(p));
                rest.is_empty()
                    || chained
                    || from_place
                    || looks_like_person(strip_title(
                        rest.split(['|', ',']).next().unwrap_or("").trim(),
                    ))
            })
    };
    if let Some(i) = lines.iter().rposition(is_closing) {
        let same_line = CLOSING
            .captures(lines[i])
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().trim().trim_end_matches(['.', '!']).to_owned())
            .filter(|s| !s.is_empty());
        let mut rest = lines[i + 1..]
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty());
        let same_line = same_line.filter(|s| {
            looks_like_person(strip_title(s.split(['|', ',']).next().unwrap_or("").trim()))
        });
        let candidate = match same_line {
            Some(s) => Some(s),
            None => rest.next().map(str::to_owned),
        };
        if let Some(c) = candidate {
            let c = c.split(['|', ',']).next().unwrap_or("").trim();
            let c = strip_title(c).to_owned();
            if looks_like_person(&c) {
                name = Some(c);
            }
        }
        for l in rest.take(3) {
            let part = l
                .split([',', '|'])
                .map(str::trim)
                .find(|p| LEGAL_FORM.is_match(p));
            if let Some(p) =
                part.filter(|p| !p.chars().any(|c| c.is_ascii_digit()) && p.len() <= 60)
            {
                company = Some(p.to_owned());
                break;
            }
        }
    }
    if name.is_none()
        && let Some(last) = lines.iter().rev().map(|l| l.trim()).find(|l| !l.is_empty())
        && let Some(i) = last.rfind(['.', '?', '!'])
        && let Some(c) = CLOSING.captures(last[i + 1..].trim())
    {
        // "… haben? Danke, Thomas": a sign-off after the last sentence of the last line.
        let rest = c
            .get(1)
            .map_or("", |m| m.as_str())
            .trim()
            .trim_end_matches(['.', '!']);
        let cand = strip_title(rest);
        if looks_like_person(cand) {
            name = Some(cand.to_owned());
        }
    }
    if name.is_none() {
        // No sign-off formula: a short last line that is a name ("…\nUrsula").
        let mut non_empty = lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty());
        let last = non_empty.next_back();
        if let Some(last) = last.filter(|_| non_empty.count() >= 1) {
            let cand = strip_title(last.trim_end_matches(['.', '!']));
            if cand.split_whitespace().count() <= 3 && looks_like_person(cand) {
                name = Some(cand.to_owned());
            }
        }
    }
    if name.is_none() && phone.is_none() && company.is_none() {
        return None;
    }
    Some(Contact {
        name,
        phone,
        company,
    })
}

/// "Dr. Sarah Collins" → "Sarah Collins".
fn strip_title(s: &str) -> &str {
    let mut s = s;
    loop {
        let Some((first, rest)) = s.split_once(' ') else {
            return s;
        };
        let t = first.trim_end_matches('.').to_lowercase();
        if [
            "dr", "prof", "mr", "mrs", "ms", "herr", "frau", "mme", "m", "sig", "sig.ra", "sr",
            "sra", "dott", "ing", "lic", "mag",
        ]
        .contains(&t.as_str())
        {
            s = rest.trim_start();
        } else {
            return s;
        }
    }
}

fn looks_like_person(s: &str) -> bool {
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.is_empty() || words.len() > 4 || s.len() > 40 {
        return false;
    }
    if s.chars()
        .any(|c| c.is_ascii_digit() || matches!(c, '@' | ':' | '?' | '/'))
    {
        return false;
    }
    if LEGAL_FORM.is_match(s) {
        return false;
    }
    const PARTICLES: &[&str] = &[
        "von", "van", "de", "di", "del", "da", "la", "le", "du", "der", "den", "y", "und", "et",
        "e", "and",
    ];
    const NOT_NAMES: &[&str] = &[
        "The",
        "Team",
        "Your",
        "Ihr",
        "Ihre",
        "Euer",
        "Eure",
        "Votre",
        "Il",
        "El",
        "Los",
        "Las",
        "Les",
        "Das",
        "Die",
        "Der",
        "We",
        "Wir",
        "Nous",
        "Noi",
        "Nosotros",
        "See",
        "Looking",
        "Have",
        "Hope",
        "Bis",
        "Speak",
        "Talk",
        "A",
        "Thanks",
        "Thank",
        "Danke",
        "Merci",
        "Grazie",
        "Gracias",
        "Cheers",
        "Regards",
        "Best",
        "Perfect",
        "Approved",
        "Gruss",
        "Gruß",
        "Grüsse",
        "Grüße",
        "Liebe",
        "Viele",
        "Beste",
        "Freundliche",
        "Herzliche",
        "Saluti",
        "Saludos",
        "Cordialement",
        "Ok",
        "OK",
        "Yes",
        "Sent",
        "Gesendet",
        "Envoyé",
    ];
    words[0].chars().next().is_some_and(char::is_uppercase)
        && !NOT_NAMES.contains(&words[0])
        && words.iter().all(|w| {
            PARTICLES.contains(w)
                || w.chars().next().is_some_and(char::is_uppercase)
                    && w.chars()
                        .all(|c| c.is_alphabetic() || matches!(c, '-' | '.' | '\'' | '’'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_to_e164() {
        assert_eq!(
            normalise_phone("+41 44 123 45 67").as_deref(),
            Some("+41441234567")
        );
        assert_eq!(
            normalise_phone("0041 79 555 12 34").as_deref(),
            Some("+41795551234")
        );
        assert_eq!(
            normalise_phone("+41 (0)44 123 45 67").as_deref(),
            Some("+41441234567")
        );
        assert_eq!(
            normalise_phone("079 555 12 34").as_deref(),
            Some("+41795551234")
        );
        assert_eq!(
            normalise_phone("+49 30 1234567").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(normalise_phone("+41 44 12"), None);
        assert_eq!(phones("Call 17.03.2026 or 25 people").0, None);
    }

    #[test]
    fn name_and_company_from_sign_off() {
        let c = extract(
            "Thanks!\n\nBest regards,\nAnna Muster\nHR Lead\nHelvetia Labs AG\n+41 44 123 45 67",
        )
        .unwrap();
        assert_eq!(c.name.as_deref(), Some("Anna Muster"));
        assert_eq!(c.company.as_deref(), Some("Helvetia Labs AG"));
        assert_eq!(c.phone.as_deref(), Some("+41441234567"));
        let c = extract("Merci et à bientôt.\nCordialement, Julien Dubois").unwrap();
        assert_eq!(c.name.as_deref(), Some("Julien Dubois"));
        assert!(extract("See you soon").is_none());
        let c = extract("Viele Grüsse\nThe Events Team").map(|c| c.name);
        assert_eq!(c, None);
    }
}
