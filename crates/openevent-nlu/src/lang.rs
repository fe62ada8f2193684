//! Language detection by stop-word and marker scoring. Ties and empty text default to English.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use openevent_core::understanding::Language;

const EN: &[&str] = &[
    "the", "and", "we", "would", "like", "for", "our", "you", "please", "thanks", "thank", "is",
    "are", "with", "hi", "hello", "dear", "regards", "best", "could", "can", "of", "to", "on",
    "people", "guests", "this", "that", "it", "be", "will", "have", "yes", "no", "a", "an",
];
const DE: &[&str] = &[
    "und",
    "wir",
    "ich",
    "möchten",
    "für",
    "mit",
    "eine",
    "einen",
    "bitte",
    "grüsse",
    "grüße",
    "guten",
    "tag",
    "personen",
    "gerne",
    "vielen",
    "dank",
    "freundlichen",
    "der",
    "die",
    "das",
    "ist",
    "sie",
    "uns",
    "den",
    "nicht",
    "auch",
    "noch",
    "hallo",
    "liebe",
    "lieber",
    "sehr",
    "geehrte",
    "würden",
    "gäste",
    "ja",
    "danke",
    "passt",
    "einverstanden",
    "gruss",
    "grüezi",
    "hoi",
    "leider",
    "doch",
    "aw",
    "offerte",
    "angebot",
    "wie",
    "wir",
    "können",
    "am",
    "um",
    "uhr",
    "zu",
    "von",
    "auf",
    "es",
    "ein",
    "dem",
];
const FR: &[&str] = &[
    "le",
    "la",
    "les",
    "et",
    "nous",
    "vous",
    "pour",
    "avec",
    "une",
    "des",
    "bonjour",
    "merci",
    "cordialement",
    "personnes",
    "je",
    "est",
    "du",
    "pas",
    "salutations",
    "madame",
    "monsieur",
    "souhaiterions",
    "serait",
    "notre",
    "votre",
    "sur",
    "dans",
    "au",
    "aux",
    "oui",
    "avons",
    "sommes",
    "d'accord",
];
const IT: &[&str] = &[
    "il",
    "di",
    "e",
    "per",
    "con",
    "una",
    "vorremmo",
    "buongiorno",
    "grazie",
    "saluti",
    "persone",
    "siamo",
    "sono",
    "della",
    "nel",
    "alle",
    "che",
    "non",
    "gentile",
    "cordiali",
    "vostro",
    "nostro",
    "ci",
    "mi",
    "sala",
    "è",
    "anche",
    "va",
    "bene",
    "ciao",
    "sì",
    "gli",
    "confermiamo",
    "tutto",
    "presto",
    "perfetto",
    "nostre",
    "nostra",
    "scopri",
    "clicca",
    "qui",
    "dalla",
    "dalle",
    "possiamo",
    "invece",
    "delle",
];
const ES: &[&str] = &[
    "el",
    "y",
    "para",
    "con",
    "una",
    "nosotros",
    "hola",
    "gracias",
    "saludos",
    "personas",
    "somos",
    "estamos",
    "queremos",
    "quisiéramos",
    "del",
    "los",
    "las",
    "que",
    "por",
    "es",
    "muy",
    "nuestro",
    "vuestro",
    "su",
    "sí",
    "buenos",
    "días",
    "estimados",
    "atentamente",
    "acuerdo",
    "cena",
    "evento",
    "de",
];

/// FNV-1a: the keys are a few hundred short, fixed words, so a fast non-keyed hash is enough
/// (there is no untrusted key set to flood), and it is several times cheaper per word.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Marker word → the languages it votes for (bit i = language i), built once.
static MARKERS: LazyLock<HashMap<&'static str, u8, BuildHasherDefault<Fnv>>> =
    LazyLock::new(|| {
        let mut m: HashMap<&'static str, u8, BuildHasherDefault<Fnv>> = HashMap::default();
        for (i, list) in [EN, DE, FR, IT, ES].iter().enumerate() {
            for w in *list {
                *m.entry(w).or_default() |= 1 << i;
            }
        }
        m
    });

/// The non-empty runs of letters, digits and apostrophes (`'`, `’`), in order. Byte-wise for
/// ASCII, where `char::is_alphanumeric` is `[A-Za-z0-9]`; the same split as
/// `str::split(|c| !(c.is_alphanumeric() || c == '\'' || c == '’'))` without the empty pieces.
fn words(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut start = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let b = bytes[i];
            let (word, len) = if b.is_ascii() {
                (b.is_ascii_alphanumeric() || b == b'\'', 1)
            } else {
                let c = text[i..].chars().next().unwrap_or(' ');
                (c.is_alphanumeric() || c == '’', c.len_utf8())
            };
            let at = i;
            i += len;
            if !word {
                let w = &text[start..at];
                start = i;
                if !w.is_empty() {
                    return Some(w);
                }
            }
        }
        let w = &text[start..];
        start = text.len();
        (!w.is_empty()).then_some(w)
    })
}

/// Scores each language by how many of its marker words the text contains.
pub fn detect(lower: &str) -> Language {
    let mut scores = [0u32; 5];
    for w in words(lower) {
        if let Some(bits) = MARKERS.get(w) {
            for (i, score) in scores.iter_mut().enumerate() {
                if bits & (1 << i) != 0 {
                    *score += 1;
                }
            }
        }
        if w.starts_with("l'") || w.starts_with("d'") || w.starts_with("qu'") {
            scores[2] += 1;
        }
        // 'ß', 'ñ' and "ción" are not ASCII: only a non-ASCII word can hold them.
        let ascii = w.is_ascii();
        if (!ascii && w.contains('ß')) || w.ends_with("ung") || w.ends_with("chen") {
            scores[1] += 1;
        }
        if !ascii && (w.contains('ñ') || w.ends_with("ción")) {
            scores[4] += 2;
        }
        if w.ends_with("zione") || w.ends_with("zioni") {
            scores[3] += 2;
        }
    }
    let langs = [
        Language::En,
        Language::De,
        Language::Fr,
        Language::It,
        Language::Es,
    ];
    let mut best = 0;
    for i in 1..5 {
        if scores[i] > scores[best] {
            best = i;
        }
    }
    if scores[best] == 0 {
        Language::En
    } else {
        langs[best]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_the_char_predicate() {
        for t in [
            "",
            "   ",
            "l'offre d’accord, grüße ß-straße; ¿qué? 17.03. ½ x",
            "année—été…ok",
            "a",
            "é",
        ] {
            let expected: Vec<&str> = t
                .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
                .filter(|w| !w.is_empty())
                .collect();
            assert_eq!(words(t).collect::<Vec<_>>(), expected, "{t}");
        }
    }

    #[test]
    fn detects_five_languages() {
        let cases = [
            ("we would like to book a room for 20 people", Language::En),
            (
                "wir möchten gerne einen raum für 20 personen buchen",
                Language::De,
            ),
            (
                "nous souhaiterions réserver une salle pour 20 personnes",
                Language::Fr,
            ),
            (
                "vorremmo prenotare una sala per 20 persone, grazie",
                Language::It,
            ),
            (
                "queremos reservar una sala para 20 personas, gracias",
                Language::Es,
            ),
            ("", Language::En),
            ("12345", Language::En),
        ];
        for (t, l) in cases {
            assert_eq!(detect(t), l, "{t}");
        }
    }
}
