//! Small text helpers shared by the extractors: masking consumed spans, sentence splitting,
//! number words.

use std::ops::Range;

/// Replaces a consumed span with spaces of the same byte length, so later extractors cannot
/// read the same digits twice (a date's "17" is never a participant count) and every other
/// span keeps its offsets.
pub fn mask(text: &mut String, range: Range<usize>) {
    if range.start >= range.end || range.end > text.len() {
        return;
    }
    if !text.is_char_boundary(range.start) || !text.is_char_boundary(range.end) {
        return;
    }
    let spaces = " ".repeat(range.end - range.start);
    text.replace_range(range, &spaces);
}

/// Sentences (and lines) with their byte offsets. Splits on `.!?;` followed by whitespace and
/// on line breaks; a dot inside "17.03.2026" or "ca. 40" that is not followed by a capital or
/// a line end keeps the sentence together well enough for cue scoping.
pub fn sentences(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let end_here = match b {
            b'\n' | b'!' | b'?' | b';' => true,
            b'.' => bytes.get(i + 1).is_none_or(|n| *n == b' ' || *n == b'\n'),
            _ => false,
        };
        if end_here {
            let s = &text[start..=i];
            if !s.trim().is_empty() {
                out.push((start, s));
            }
            start = i + 1;
        }
    }
    if start < text.len() && !text[start..].trim().is_empty() {
        out.push((start, &text[start..]));
    }
    out
}

/// The sentence containing byte offset `pos`.
pub fn sentence_at(text: &str, pos: usize) -> &str {
    let bytes = text.as_bytes();
    let mut s = pos.min(text.len());
    while s > 0 {
        let b = bytes[s - 1];
        if matches!(b, b'\n' | b'!' | b'?' | b';')
            || (b == b'.' && bytes.get(s).is_some_and(|n| *n == b' ' || *n == b'\n'))
        {
            break;
        }
        s -= 1;
    }
    let mut e = pos.min(text.len());
    while e < text.len() {
        let b = bytes[e];
        e += 1;
        if matches!(b, b'\n' | b'!' | b'?' | b';')
            || (b == b'.' && bytes.get(e).is_none_or(|n| *n == b' ' || *n == b'\n'))
        {
            break;
        }
    }
    while !text.is_char_boundary(s) {
        s -= 1;
    }
    while !text.is_char_boundary(e) {
        e += 1;
    }
    &text[s..e]
}

/// Number words (lowercase) in the five languages, for counts like "twenty guests".
pub fn number_word(w: &str) -> Option<u32> {
    let n = match w {
        "one" | "a" | "an" | "ein" | "eine" | "einen" | "un" | "une" | "uno" | "una" => 1,
        "two" | "zwei" | "deux" | "due" | "dos" | "couple" => 2,
        "three" | "drei" | "trois" | "tre" | "tres" => 3,
        "four" | "vier" | "quatre" | "quattro" | "cuatro" => 4,
        "five" | "fünf" | "funf" | "cinq" | "cinque" | "cinco" => 5,
        "six" | "sechs" | "sei" | "seis" => 6,
        "seven" | "sieben" | "sept" | "sette" | "siete" => 7,
        "eight" | "acht" | "huit" | "otto" | "ocho" => 8,
        "nine" | "neun" | "neuf" | "nove" | "nueve" => 9,
        "ten" | "zehn" | "dix" | "dieci" | "diez" => 10,
        "eleven" | "elf" | "onze" | "undici" | "once" => 11,
        "twelve" | "zwölf" | "douze" | "dodici" | "doce" => 12,
        "fifteen" | "fünfzehn" | "quinze" | "quindici" | "quince" => 15,
        "twenty" | "zwanzig" | "vingt" | "venti" | "veinte" => 20,
        "thirty" | "dreissig" | "dreißig" | "trente" | "trenta" | "treinta" => 30,
        "forty" | "vierzig" | "quarante" | "quaranta" | "cuarenta" => 40,
        "fifty" | "fünfzig" | "cinquante" | "cinquanta" | "cincuenta" => 50,
        "sixty" | "sechzig" | "soixante" | "sessanta" | "sesenta" => 60,
        "hundred" | "hundert" | "cent" | "cento" | "cien" => 100,
        _ => return None,
    };
    Some(n)
}

/// Whether any of `needles` occurs in `hay` (both lowercase).
pub fn contains_any(hay: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| hay.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_offsets() {
        let mut s = String::from("am 17.03.2026 für 40");
        mask(&mut s, 3..13);
        assert_eq!(s.len(), "am 17.03.2026 für 40".len());
        assert!(s.ends_with("für 40"));
        assert!(!s.contains("17"));
    }

    #[test]
    fn sentences_split_on_punctuation_not_dates() {
        let s = sentences("We meet on 17.03.2026 at 18:00. Is that ok? Yes");
        assert_eq!(s.len(), 3);
        assert!(s[0].1.contains("17.03.2026"));
        assert_eq!(sentence_at("Hello there. Is 5 ok? no", 17), " Is 5 ok?");
    }
}
