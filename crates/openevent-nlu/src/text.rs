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
    const SPACES: &str = "                                                                ";
    let len = range.end - range.start;
    if len <= SPACES.len() {
        text.replace_range(range, &SPACES[..len]);
    } else {
        text.replace_range(range, &" ".repeat(len));
    }
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

/// A pattern compiled twice: as written (Unicode `\b`, `\d`, `\s`, `\w`, `\p{L}`, `\p{Lu}`), and
/// with those classes spelled in ASCII. On an ASCII haystack both match exactly the same spans,
/// and the ASCII automaton is a fraction of the size, so the lazy DFA and the capture engines
/// (whose per-search set-up grows with the automaton) run much faster. Every method picks the
/// ASCII automaton when the haystack is ASCII.
pub struct Re {
    unicode: regex::Regex,
    ascii: regex::Regex,
}

impl Re {
    /// Panics on an invalid pattern (patterns are static).
    pub fn new(pattern: &str) -> Re {
        let unicode = regex::Regex::new(pattern).expect("static regex");
        let ascii = regex::Regex::new(&ascii_pattern(pattern)).expect("static regex (ascii)");
        Re { unicode, ascii }
    }

    #[inline]
    pub fn pick(&self, hay: &str) -> &regex::Regex {
        if hay.is_ascii() {
            &self.ascii
        } else {
            &self.unicode
        }
    }

    /// The number of capture groups, the implicit whole-match group included.
    pub fn captures_len(&self) -> usize {
        self.unicode.captures_len()
    }

    #[inline]
    pub fn is_match(&self, hay: &str) -> bool {
        self.pick(hay).is_match(hay)
    }

    #[inline]
    pub fn find<'h>(&self, hay: &'h str) -> Option<regex::Match<'h>> {
        self.pick(hay).find(hay)
    }

    #[inline]
    pub fn find_iter<'r, 'h>(&'r self, hay: &'h str) -> regex::Matches<'r, 'h> {
        self.pick(hay).find_iter(hay)
    }

    #[inline]
    pub fn captures<'h>(&self, hay: &'h str) -> Option<regex::Captures<'h>> {
        self.pick(hay).captures(hay)
    }

    #[inline]
    pub fn captures_iter<'r, 'h>(&'r self, hay: &'h str) -> regex::CaptureMatches<'r, 'h> {
        self.pick(hay).captures_iter(hay)
    }

    #[inline]
    pub fn replace<'h, R: regex::Replacer>(
        &self,
        hay: &'h str,
        rep: R,
    ) -> std::borrow::Cow<'h, str> {
        self.pick(hay).replace(hay, rep)
    }

    #[inline]
    pub fn replace_all<'h, R: regex::Replacer>(
        &self,
        hay: &'h str,
        rep: R,
    ) -> std::borrow::Cow<'h, str> {
        self.pick(hay).replace_all(hay, rep)
    }
}

/// `pattern` with the Unicode classes `\b`, `\d`, `\s`, `\w`, `\p{L}` and `\p{Lu}` replaced by
/// their ASCII spelling (inside and outside bracket classes). Equivalent on ASCII haystacks:
/// on ASCII characters, Unicode `\s` is `[\t\n\v\f\r ]`, `\d` is `[0-9]`, `\w` is
/// `[0-9A-Za-z_]`, `\p{L}` is `[A-Za-z]`, `\p{Lu}` is `[A-Z]`, and word boundaries agree.
/// Every other construct is kept as written.
pub fn ascii_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 64);
    let mut depth = 0usize;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let in_class = depth > 0;
                let class = |set: &str| {
                    if in_class {
                        set.to_owned()
                    } else {
                        format!("[{set}]")
                    }
                };
                match e {
                    'd' => out.push_str(&class("0-9")),
                    's' => out.push_str(&class(r"\t\n\x0B\x0C\r ")),
                    'w' => out.push_str(&class("0-9A-Za-z_")),
                    'b' if !in_class => out.push_str(r"(?-u:\b)"),
                    'p' if chars.peek() == Some(&'{') => {
                        let mut name = String::new();
                        for n in chars.by_ref() {
                            name.push(n);
                            if n == '}' {
                                break;
                            }
                        }
                        match name.as_str() {
                            "{L}" => out.push_str(&class("A-Za-z")),
                            "{Lu}" => out.push_str(&class("A-Z")),
                            _ => {
                                out.push_str("\\p");
                                out.push_str(&name);
                            }
                        }
                    }
                    _ => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' => {
                depth += 1;
                out.push('[');
                // A `]` (or `^]`) right after the opening bracket is a literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if depth > 0 => {
                depth -= 1;
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Replaces each non-ASCII character by as many ASCII bytes as it takes in UTF-8: letters and
/// digits by `x` (word characters, as Unicode `\w` sees them), spaces by ` `, anything else by `~`.
/// Offsets stay valid in the original, and word boundaries stay where Unicode puts them; cues
/// are folded the same way, so "approuvé" still matches itself.
pub(crate) fn fold_to_ascii(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        let fill = if c.is_alphanumeric() {
            'x'
        } else if c.is_whitespace() {
            ' '
        } else {
            '~'
        };
        out.extend(std::iter::repeat_n(fill, c.len_utf8()));
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_pattern_spells_unicode_classes_in_ascii() {
        assert_eq!(
            ascii_pattern(r"\b(\d{1,2})\s+[\p{L}.'\- ]\w?\p{Lu}\b"),
            r"(?-u:\b)([0-9]{1,2})[\t\n\x0B\x0C\r ]+[A-Za-z.'\- ][0-9A-Za-z_]?[A-Z](?-u:\b)"
        );
        assert_eq!(
            ascii_pattern(r"[^]\d]\.\p{Greek}\D"),
            r"[^]0-9]\.\p{Greek}\D"
        );
        let pattern = r"\b\p{L}+\s\d+\b";
        let (re, unicode) = (Re::new(pattern), regex::Regex::new(pattern).expect("regex"));
        for hay in ["Bahnhofstrasse 12", "Zürich 8001", "x 1"] {
            assert_eq!(
                re.find(hay).map(|m| m.range()),
                unicode.find(hay).map(|m| m.range()),
                "{hay}"
            );
        }
    }

    #[test]
    fn mask_keeps_offsets() {
        let mut s = String::from("am 17.03.2026 für 40");
        mask(&mut s, 3..13);
        assert_eq!(s.len(), "am 17.03.2026 für 40".len());
        assert!(s.ends_with("für 40"));
        assert!(!s.contains("17"));
        let long = "x".repeat(100);
        let mut s = format!("a{long}b");
        mask(&mut s, 1..101);
        assert_eq!(s, format!("a{}b", " ".repeat(100)));
    }

    #[test]
    fn sentences_split_on_punctuation_not_dates() {
        let s = sentences("We meet on 17.03.2026 at 18:00. Is that ok? Yes");
        assert_eq!(s.len(), 3);
        assert!(s[0].1.contains("17.03.2026"));
        assert_eq!(sentence_at("Hello there. Is 5 ok? no", 17), " Is 5 ok?");
    }
}
