//! Head counts: "25 people", "ca. 40 Personen", "party of 12", "30 pax", "for 20 guests",
//! "mit 15 Teilnehmenden", "40 personnes", "30 persone", "25 personas", "we are 25",
//! "twenty guests". Ranges ("30-40 people") give the upper bound; a count the client moves
//! away from ("instead of 25") loses to another; "5 more guests" is a delta, not a count.
//! Runs after dates, times, phones, prices and addresses are masked.

use std::sync::LazyLock;

use crate::text::Re;
use crate::text::number_word;

const PEOPLE: &str = r"(?:people|persons?|pers\.?|ppl|guests|participants|attendees|pax|delegates|colleagues|employees|staff|adults|visitors|members|personen|gäste|gästen|gaeste|besucher|besuchern|besucherinnen|mitglieder|mitgliedern|teilnehmern|leuten|teilnehmenden|teilnehmende|teilnehmer|teilnehmerinnen|leute|mitarbeitenden|mitarbeitende|mitarbeiter|mitarbeiterinnen|kollegen|kolleginnen|erwachsene|personnes|invités|convives|collaborateurs|collègues|persone|ospiti|partecipanti|invitati|colleghi|dipendenti|personas|invitados|asistentes|participantes|colaboradores|empleados|comensales|coperti)\b";

const NUMBER_WORDS: &str = "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|hundred|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|fünfzehn|zwanzig|dreissig|dreißig|vierzig|fünfzig|sechzig|hundert|deux|trois|quatre|cinq|sept|huit|neuf|dix|onze|douze|quinze|vingt|trente|quarante|cinquante|soixante|cent|due|tre|quattro|cinque|sei|sette|otto|nove|dieci|undici|dodici|quindici|venti|trenta|quaranta|cinquanta|sessanta|cento|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce|quince|veinte|treinta|cuarenta|cincuenta|sesenta|cien";

const APPROX: &str = r"(?:(?:ca\.?|circa|approx\.?|approximately|about|around|roughly|up to|max\.?|maximum|rund|etwa|ungefähr|bis zu|environ|près de|jusqu'à|quasi|unos|unas|aproximadamente|alrededor de|~)\s*)?";

static COUNT_THEN_PEOPLE: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b{APPROX}(\d{{1,4}}|{NUMBER_WORDS})\b(?:\s*(?:-|–|\bto\b|\bbis\b|\bà\b|\ba\b|\bor\b|\boder\b|\bou\b|\bo\b|\band\b|\bund\b|\bet\b|\be\b|\by\b)\s*(\d{{1,4}}))?\s+([a-zäöüéèàíóúñ-]+\s+)?{PEOPLE}"
    ))
});

static GROUP_OF: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b(?:party|group|groupe|gruppe|gruppo|grupo|table|tisch|team)\s+(?:of|von|de|di|für|for|pour|per|para)\s+{APPROX}(\d{{1,4}})\b"
    ))
});

static WE_ARE: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b(?:we are|we'll be|we will be|we're|there will be|we expect|expecting|wir sind|wir werden|wir wären|wir erwarten|es werden|es kommen|nous serons|nous serions|nous sommes|on sera|on serait|saremmo|seríamos|saremo|siamo|seremo|seremos|somos|vamos a ser|esperamos)\s+(?:(?:now|jetzt|nun|neu|maintenant|ora|ahora|übrigens|by the way|actually|d'ailleurs|comunque|por cierto|insgesamt|in total)\s+)?{APPROX}(\d{{1,4}})\b\s*([a-zäöüéèàíóúñ%]*)"
    ))
});

static FOR_N: LazyLock<Re> = LazyLock::new(|| {
    Re::new(&format!(
        r"\b(?:for|für|pour|per|para)\s+{APPROX}(\d{{1,4}})(?:\s*(?:-|–|to|bis)\s*(\d{{1,4}}))?\s*(?:[.,;!?)]|$|\s+(?:on|am|le|il|el|in|im|at|um|from|von|with|mit|and|und|et|e|y|next|nächst|this|tonight|today|dieses|diesen|ce|questo|este|around|at|um|à|alle|a las|\n))"
    ))
});

static DIETARY_AFTER: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"^\s*(?:are|is|have|has|sind|haben|sont|ont|sono|hanno|son|tienen|need|brauchen)\b.{0,20}(?:vegan|vegetari|végétarien|allerg|gluten|lactose|laktose|halal|kosher|koscher|intoleran|unverträglich|wheelchair|rollstuhl)",
    )
});

static NUMBER_OF: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"\b(?:number of (?:participants|guests|people|attendees)|headcount|head count|guest count|teilnehmerzahl|personenzahl|anzahl (?:der )?(?:personen|gäste|teilnehmenden|teilnehmer)|nombre de (?:personnes|participants|invités)|numero di (?:persone|partecipanti|ospiti)|número de (?:personas|invitados|asistentes))\D{0,25}?\b(\d{1,4})\b",
    )
});

static OLD_MARKER: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?:instead of|rather than|not|statt|anstatt|anstelle von|nicht|au lieu de|plus|invece di|non più|en lugar de|en vez de|from|von|de|da|previously|bisher|vorher|was|were|waren)\s*(?:the\s+|den\s+|les\s+|i\s+|las\s+|los\s+)?$",
    )
});

const DELTA_WORDS: &[&str] = &[
    "more",
    "additional",
    "extra",
    "further",
    "zusätzliche",
    "weitere",
    "mehr",
    "supplémentaires",
    "de plus",
    "in più",
    "más",
    "fewer",
    "less",
    "weniger",
];

const NOT_PEOPLE_UNITS: &[&str] = &[
    "%",
    "minutes",
    "min",
    "hours",
    "hour",
    "days",
    "day",
    "years",
    "year",
    "chf",
    "eur",
    "francs",
    "franken",
    "stunden",
    "tage",
    "jahre",
    "minuten",
    "jours",
    "heures",
    "ans",
    "giorni",
    "ore",
    "anni",
    "días",
    "horas",
    "años",
    "weeks",
    "wochen",
    "semaines",
    "settimane",
    "semanas",
    "times",
    "mal",
    "fois",
    "volte",
    "veces",
    "sure",
    "happy",
    "interested",
    "looking",
    "not",
    "still",
    "ready",
    "available",
    "free",
];

#[derive(Debug)]
struct Cand {
    pos: usize,
    n: u32,
    old: bool,
}

/// The participant count, if the message states one.
pub fn extract(lower: &str) -> Option<u32> {
    let mut cands: Vec<Cand> = Vec::new();
    for c in COUNT_THEN_PEOPLE.captures_iter(lower) {
        let m = c.get(0).expect("group 0");
        let raw = c.get(1).map_or("", |x| x.as_str());
        let Some(n) = raw
            .parse::<u32>()
            .ok()
            .or_else(|| number_word(raw).filter(|n| *n >= 2))
        else {
            continue;
        };
        if c.get(3)
            .is_some_and(|w| DELTA_WORDS.contains(&w.as_str().trim()))
        {
            continue;
        }
        if preceded_by_digit(lower, m.start()) {
            continue;
        }
        let tail: String = lower[m.end()..].chars().take(40).collect();
        if DIETARY_AFTER.is_match(&tail) {
            continue;
        }
        let n = c
            .get(2)
            .and_then(|x| x.as_str().parse().ok())
            .filter(|hi| *hi > n)
            .unwrap_or(n);
        push(&mut cands, lower, m.start(), n);
    }
    for c in NUMBER_OF.captures_iter(lower) {
        if let Some(n) = c.get(1).and_then(|x| x.as_str().parse().ok()) {
            push(&mut cands, lower, c.get(0).expect("group 0").start(), n);
        }
    }
    for c in GROUP_OF.captures_iter(lower) {
        if let Some(n) = c.get(1).and_then(|x| x.as_str().parse().ok()) {
            push(&mut cands, lower, c.get(0).expect("group 0").start(), n);
        }
    }
    for c in WE_ARE.captures_iter(lower) {
        let unit = c.get(2).map_or("", |x| x.as_str());
        if NOT_PEOPLE_UNITS.contains(&unit) || DELTA_WORDS.contains(&unit) {
            continue;
        }
        if let Some(n) = c.get(1).and_then(|x| x.as_str().parse().ok()) {
            push(&mut cands, lower, c.get(0).expect("group 0").start(), n);
        }
    }
    for c in FOR_N.captures_iter(lower) {
        let lo: Option<u32> = c.get(1).and_then(|x| x.as_str().parse().ok());
        let hi: Option<u32> = c.get(2).and_then(|x| x.as_str().parse().ok());
        if let Some(n) = hi.or(lo).filter(|n| (2..=2000).contains(n)) {
            push(&mut cands, lower, c.get(0).expect("group 0").start(), n);
        }
    }
    cands.retain(|c| (1..=5000).contains(&c.n));
    cands
        .iter()
        .filter(|c| !c.old)
        .min_by_key(|c| c.pos)
        .or_else(|| cands.iter().min_by_key(|c| c.pos))
        .map(|c| c.n)
}

fn preceded_by_digit(lower: &str, pos: usize) -> bool {
    lower[..pos]
        .trim_end_matches([' ', '\''])
        .ends_with(|c: char| c.is_ascii_digit())
}

fn push(cands: &mut Vec<Cand>, lower: &str, pos: usize, n: u32) {
    if cands.iter().any(|c| c.pos == pos) {
        return;
    }
    let mut from = pos.saturating_sub(20);
    while !lower.is_char_boundary(from) {
        from += 1;
    }
    let old = OLD_MARKER.is_match(&lower[from..pos]);
    cands.push(Cand { pos, n, old });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<u32> {
        extract(&s.to_lowercase())
    }

    #[test]
    fn counts_in_five_languages() {
        assert_eq!(p("a workshop for 25 people"), Some(25));
        assert_eq!(p("ca. 40 Personen"), Some(40));
        assert_eq!(p("a party of 12"), Some(12));
        assert_eq!(p("30 pax"), Some(30));
        assert_eq!(p("for 20 guests"), Some(20));
        assert_eq!(p("mit 15 Teilnehmenden"), Some(15));
        assert_eq!(p("40 personnes"), Some(40));
        assert_eq!(p("30 persone"), Some(30));
        assert_eq!(p("25 personas"), Some(25));
        assert_eq!(p("we are 25 in total"), Some(25));
        assert_eq!(p("twenty guests"), Some(20));
        assert_eq!(p("a table for 8, on Friday"), Some(8));
        assert_eq!(p("30-40 people"), Some(40));
        assert_eq!(p("about 35 external guests"), Some(35));
    }

    #[test]
    fn deltas_old_values_and_noise() {
        assert_eq!(p("we are now 30 instead of 25 people"), Some(30));
        assert_eq!(p("30 people instead of 25 people"), Some(30));
        assert_eq!(p("we will bring 5 more guests"), None);
        assert_eq!(p("we are happy with the offer"), None);
        assert_eq!(p("for 3 days"), None);
        assert_eq!(p("room b for the workshop"), None);
        assert_eq!(p("we are 100% sure"), None);
    }
}
