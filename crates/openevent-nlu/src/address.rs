//! Billing addresses in Swiss/German (and French/Italian street-first) formats, on one line
//! ("Helvetia Labs, Bahnhofstrasse 1, 8001 Zürich, Schweiz") or as a block of lines. An
//! address needs a street with a number and a postal code with a city; the name or company
//! is the segment before the street (labels like "Rechnungsadresse:" removed), the country
//! the segment after the city (or a "CH-"/"D-" prefix), as ISO alpha-2.

use std::sync::LazyLock;

use openevent_core::understanding::BillingAddress;

use crate::text::Re;

static POSTAL_CITY: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"^(?:(CH|D|DE|A|AT|FL|LI|F|I)\s?-\s?)?(\d{4,5})\s+(\p{Lu}[\p{L}.'’\- ]{1,40}?)\s*(?:\((\p{L}{2,12})\))?$",
    )
});

static STREET: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"^(?:\p{L}[\p{L}.'’\- ]{2,50}\s\d{1,4}\s?[a-zA-Z]?|\d{1,4}[a-z]?,?\s+(?i:rue|avenue|av\.|chemin|ch\.|route|boulevard|bd|place|quai|allée|impasse)\b[\p{L}.'’\- ]{2,50}|(?i:via|viale|piazza|corso|calle|avenida|plaza|paseo)\s[\p{L}.'’\- ]{2,50},?\s\d{1,4}[a-zA-Z]?|(?i:postfach|case postale|casella postale)\s\d{1,6})$",
    )
});

static LABEL: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?i)^.*\b(?:billing address|invoice address|invoicing address|address for the invoice|send the invoice to|invoice to|invoice should go to|please invoice|invoice|rechnungsadresse|rechnungsanschrift|rechnung an|rechnung bitte an|rechnung geht an|adresse de facturation|facture à|facturer à|indirizzo di fatturazione|fattura a|fatturare a|dirección de facturación|direccion de facturacion|factura a|facturar a|address|adresse|anschrift|indirizzo|dirección)\b\s*(?:is|ist|est|è|es|lautet|lautet neu|:)?\s*:?\s*",
    )
});

static ATTENTION: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?i)^(?:z\.\s?hd\.?|zhd|attn\.?|attention|c/o|à l'attention|all'attenzione|a la atención)",
    )
});

const COUNTRIES: &[(&str, &str)] = &[
    ("schweiz", "CH"),
    ("switzerland", "CH"),
    ("suisse", "CH"),
    ("svizzera", "CH"),
    ("suiza", "CH"),
    ("ch", "CH"),
    ("deutschland", "DE"),
    ("germany", "DE"),
    ("allemagne", "DE"),
    ("germania", "DE"),
    ("alemania", "DE"),
    ("de", "DE"),
    ("österreich", "AT"),
    ("austria", "AT"),
    ("autriche", "AT"),
    ("at", "AT"),
    ("frankreich", "FR"),
    ("france", "FR"),
    ("francia", "FR"),
    ("italien", "IT"),
    ("italy", "IT"),
    ("italie", "IT"),
    ("italia", "IT"),
    ("spanien", "ES"),
    ("spain", "ES"),
    ("espagne", "ES"),
    ("spagna", "ES"),
    ("españa", "ES"),
    ("liechtenstein", "LI"),
    ("fürstentum liechtenstein", "LI"),
    ("united kingdom", "GB"),
    ("uk", "GB"),
    ("netherlands", "NL"),
    ("belgium", "BE"),
    ("belgique", "BE"),
];

fn country(seg: &str) -> Option<&'static str> {
    let s = seg.trim().trim_end_matches(['.', ',', ';']).to_lowercase();
    COUNTRIES.iter().find(|c| c.0 == s).map(|c| c.1)
}

fn prefix_country(p: &str) -> &'static str {
    match p {
        "CH" => "CH",
        "D" | "DE" => "DE",
        "A" | "AT" => "AT",
        "FL" | "LI" => "LI",
        "F" => "FR",
        _ => "IT",
    }
}

/// The billing address and the indices of the lines it occupies (for masking).
pub fn extract(text: &str) -> Option<(BillingAddress, Vec<usize>)> {
    let mut segs: Vec<(usize, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for part in line.split(',') {
            let mut p = part.trim().trim_end_matches(';').trim();
            // A final dot ends the sentence, unless it ends an abbreviation ("S.L.", "Str.").
            if let Some(stripped) = p.strip_suffix('.')
                && !stripped.ends_with(|c: char| c.is_uppercase())
                && !stripped.ends_with("str")
            {
                p = stripped.trim_end();
            }
            if !p.is_empty() {
                segs.push((i, p.to_owned()));
            }
        }
    }
    for k in 1..segs.len() {
        // `POSTAL_CITY` needs a digit (`\d` is within `char::is_numeric`): most segments have
        // none, and this check is far cheaper than the regex.
        if !may_be_postal_city(&segs[k].1) {
            continue;
        }
        let Some(c) = POSTAL_CITY.captures(&segs[k].1) else {
            continue;
        };
        let street = &segs[k - 1].1;
        let street = LABEL.replace(street, "").trim().to_owned();
        if !STREET.is_match(&street) {
            continue;
        }
        let mut lines = vec![segs[k - 1].0, segs[k].0];
        let mut name = None;
        let mut j = k.checked_sub(2);
        while let Some(idx) = j {
            let seg = &segs[idx].1;
            if ATTENTION.is_match(seg) {
                lines.push(segs[idx].0);
                j = idx.checked_sub(1);
                continue;
            }
            let cleaned = LABEL
                .replace(seg, "")
                .trim()
                .trim_end_matches(':')
                .trim()
                .to_owned();
            if looks_like_name(&cleaned) && segs[idx].0 + 3 >= segs[k].0 {
                name = Some(cleaned);
                lines.push(segs[idx].0);
            }
            break;
        }
        let mut country_code = c.get(1).map(|p| prefix_country(p.as_str()).to_owned());
        if let Some(inline) = c.get(4).and_then(|m| country(m.as_str())) {
            country_code = Some(inline.to_owned());
        }
        if let Some(next) = segs.get(k + 1)
            && let Some(cc) = country(&next.1)
        {
            country_code = Some(cc.to_owned());
            lines.push(next.0);
        }
        let city = c.get(3).map(|m| m.as_str().trim().to_owned());
        return Some((
            BillingAddress {
                name_or_company: name,
                street: Some(street),
                postal_code: c.get(2).map(|m| m.as_str().to_owned()),
                city,
                country: country_code,
            },
            lines,
        ));
    }
    None
}

/// A cheap necessary condition for `POSTAL_CITY` (whose bounded Unicode classes make a failed
/// match expensive): the segment starts with the four digits of the postal code, or with a
/// country prefix letter and holds four digits in a row. `char::is_numeric` is a superset of
/// `\d`, so nothing `POSTAL_CITY` accepts is turned away.
fn may_be_postal_city(seg: &str) -> bool {
    match seg.chars().next() {
        Some(c) if c.is_numeric() => seg.chars().take(4).filter(|c| c.is_numeric()).count() == 4,
        Some('C' | 'D' | 'A' | 'F' | 'L' | 'I') => {
            let mut run = 0;
            seg.chars().any(|c| {
                run = if c.is_numeric() { run + 1 } else { 0 };
                run == 4
            })
        }
        _ => false,
    }
}

fn looks_like_name(s: &str) -> bool {
    let words = s.split_whitespace().count();
    !s.is_empty()
        && s.len() <= 60
        && (1..=7).contains(&words)
        && s.chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
        && !s.contains(['?', '!', '@'])
        && ![
            "Hi",
            "Hello",
            "Dear",
            "Hallo",
            "Liebe",
            "Bonjour",
            "Ciao",
            "Hola",
            "Thanks",
            "Danke",
            "Merci",
            "Grazie",
            "Gracias",
            "Best",
            "Regards",
            "Kind regards",
        ]
        .iter()
        .any(|g| s == *g || s.starts_with(&format!("{g} ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> BillingAddress {
        extract(s).expect("address").0
    }

    fn full(n: &str, st: &str, pc: &str, c: &str, cc: Option<&str>) -> BillingAddress {
        BillingAddress {
            name_or_company: Some(n.into()),
            street: Some(st.into()),
            postal_code: Some(pc.into()),
            city: Some(c.into()),
            country: cc.map(Into::into),
        }
    }

    #[test]
    fn one_line_swiss_and_german() {
        assert_eq!(
            a("Helvetia Labs, Bahnhofstrasse 1, 8001 Zürich, Schweiz"),
            full(
                "Helvetia Labs",
                "Bahnhofstrasse 1",
                "8001",
                "Zürich",
                Some("CH")
            )
        );
        assert_eq!(
            a("Please invoice Nordlicht GmbH, Musterstr. 5, 10115 Berlin, Germany."),
            full(
                "Nordlicht GmbH",
                "Musterstr. 5",
                "10115",
                "Berlin",
                Some("DE")
            )
        );
    }

    #[test]
    fn blocks_with_labels() {
        let text = "Our billing address:\nHelvetia Labs AG\nz.Hd. Anna Muster\nBahnhofstrasse 1\nCH-8001 Zürich\n\nThanks";
        assert_eq!(
            a(text),
            full(
                "Helvetia Labs AG",
                "Bahnhofstrasse 1",
                "8001",
                "Zürich",
                Some("CH")
            )
        );
        let text = "Rechnungsadresse: Kessler & Partner AG, Seestrasse 12a, 8800 Thalwil";
        assert_eq!(
            a(text),
            full(
                "Kessler & Partner AG",
                "Seestrasse 12a",
                "8800",
                "Thalwil",
                None
            )
        );
        let text =
            "Adresse de facturation :\nAtelier Dubois Sàrl\n12 rue du Rhône\n1204 Genève\nSuisse";
        assert_eq!(
            a(text),
            full(
                "Atelier Dubois Sàrl",
                "12 rue du Rhône",
                "1204",
                "Genève",
                Some("CH")
            )
        );
    }

    #[test]
    fn not_addresses() {
        assert!(extract("We are 25 people on 17.03.2026, Room B").is_none());
        assert!(extract("Budget 2000 Franken").is_none());
    }
}
