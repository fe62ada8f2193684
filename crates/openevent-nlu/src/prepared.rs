//! The venue vocabulary prepared once for matching many messages.
//!
//! Room and product names are folded (lowercase, `-`, `_` and `/` as spaces) once, and all
//! names of a kind go into one Aho-Corasick automaton, so a message is scanned once per kind
//! instead of once per name. The per-name rules stay exactly those of `rooms::find_word`
//! (word boundaries, plural suffixes, leftmost non-overlapping occurrences): the automaton
//! only proposes where each name occurs.

use std::cmp::Reverse;
use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use openevent_core::understanding::Lexicon;

use crate::rooms::{find_word, fold, word_at};

/// A venue's [`Lexicon`], prepared for [`understand`](crate::understand). Preparing costs far
/// more than reading one message: build it once per venue (when the lexicon is loaded) and
/// share it; it is immutable and `Send + Sync`.
#[derive(Debug, Clone)]
pub struct PreparedLexicon {
    lexicon: Lexicon,
    pub(crate) rooms: Names,
    /// (pattern in `rooms`, room entry) for every room name, in lexicon order.
    pub(crate) room_names: Vec<(usize, usize)>,
    pub(crate) products: Names,
    /// (pattern in `products`, product entry) for every product name, longest folded name
    /// first (stable, so lexicon order among equals): longer names are matched, and masked,
    /// before the shorter names they contain.
    pub(crate) product_names: Vec<(usize, usize)>,
}

impl PreparedLexicon {
    pub fn new(lexicon: &Lexicon) -> Self {
        let mut rooms = NamesBuilder::default();
        let mut room_names = Vec::new();
        for (entry, e) in lexicon.rooms.iter().enumerate() {
            for name in &e.names {
                if let Some(p) = rooms.intern(fold(name).trim()) {
                    room_names.push((p, entry));
                }
            }
        }
        let mut folded: Vec<(String, usize)> = lexicon
            .products
            .iter()
            .enumerate()
            .flat_map(|(entry, e)| e.names.iter().map(move |n| (fold(n), entry)))
            .collect();
        folded.sort_by_key(|(n, _)| Reverse(n.len()));
        let mut products = NamesBuilder::default();
        let product_names = folded
            .iter()
            .filter_map(|(n, entry)| Some((products.intern(n.trim())?, *entry)))
            .collect();
        Self {
            lexicon: lexicon.clone(),
            rooms: rooms.build(),
            room_names,
            products: products.build(),
            product_names,
        }
    }

    /// The lexicon this was prepared from.
    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }
}

impl From<&Lexicon> for PreparedLexicon {
    fn from(lexicon: &Lexicon) -> Self {
        Self::new(lexicon)
    }
}

#[derive(Default)]
struct NamesBuilder {
    patterns: Vec<String>,
    ids: HashMap<String, usize>,
}

impl NamesBuilder {
    /// The pattern id of a folded, trimmed name; `None` for an empty name (it never matches).
    fn intern(&mut self, name: &str) -> Option<usize> {
        if name.is_empty() {
            return None;
        }
        if let Some(&id) = self.ids.get(name) {
            return Some(id);
        }
        let id = self.patterns.len();
        self.patterns.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        Some(id)
    }

    fn build(self) -> Names {
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            // A DFA: the fastest search, and a venue's few hundred names keep it small.
            .kind(Some(AhoCorasickKind::DFA))
            .build(&self.patterns)
            .expect("a few hundred short names fit the automaton's limits");
        let space_runs = self.patterns.iter().map(|p| longest_space_run(p)).collect();
        Names {
            automaton,
            patterns: self.patterns,
            space_runs,
        }
    }
}

fn longest_space_run(s: &str) -> usize {
    s.split(|c| c != ' ').map(str::len).max().unwrap_or(0)
}

/// Distinct folded names of one kind, with an automaton over all of them.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    automaton: AhoCorasick,
    patterns: Vec<String>,
    /// Per pattern, its longest run of spaces.
    space_runs: Vec<usize>,
}

impl Names {
    /// Every occurrence of every name in `hay`, overlapping ones included, as
    /// (pattern, start) sorted by pattern, then start.
    pub(crate) fn occurrences(&self, hay: &str) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = self
            .automaton
            .find_overlapping_iter(hay)
            .map(|m| (m.pattern().as_usize(), m.start()))
            .collect();
        out.sort_unstable();
        out
    }

    /// Per pattern, whether `found` (from [`Names::occurrences`]) holds an occurrence of it.
    pub(crate) fn present(&self, found: &[(usize, usize)]) -> Vec<bool> {
        let mut present = vec![false; self.patterns.len()];
        for &(p, _) in found {
            present[p] = true;
        }
        present
    }

    /// Whether [`Names::find_word`] can find anything for `pattern`: `false` only when the
    /// scanned text held no occurrence of it and masking cannot have created one.
    pub(crate) fn may_find(&self, present: &[bool], pattern: usize, min_masked: usize) -> bool {
        present[pattern] || self.space_runs[pattern] >= min_masked
    }

    /// Exactly `find_word(hay, pattern)`, given `found = self.occurrences(scanned)` where `hay`
    /// is `scanned` with some spans replaced by spaces, none of them shorter than
    /// `min_masked` bytes (`usize::MAX` when `hay` is `scanned`).
    ///
    /// Masking only removes occurrences (checked here), except that a name with a run of at
    /// least `min_masked` spaces could newly match across a masked span ("a  b" over
    /// "a<x>b"); such a name is searched directly.
    pub(crate) fn find_word(
        &self,
        hay: &str,
        found: &[(usize, usize)],
        pattern: usize,
        min_masked: usize,
    ) -> Vec<(usize, usize)> {
        let needle = self.patterns[pattern].as_str();
        if self.space_runs[pattern] >= min_masked {
            return find_word(hay, needle);
        }
        let from = found.partition_point(|&(p, _)| p < pattern);
        let to = found.partition_point(|&(p, _)| p <= pattern);
        let mut out = Vec::new();
        let mut next = 0;
        for &(_, s) in &found[from..to] {
            // `find_word` resumes after each occurrence, boundaries or not.
            if s < next || hay.as_bytes().get(s..s + needle.len()) != Some(needle.as_bytes()) {
                continue;
            }
            out.extend(word_at(hay, needle, s));
            next = s + needle.len();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::atelier_lexicon;
    use crate::text::mask;

    /// The automaton-backed search agrees with `find_word`, also on masked text.
    #[test]
    fn agrees_with_find_word() {
        let mut b = NamesBuilder::default();
        let names = ["aa", "x.", "a  b", "coffee break", "coffee", "mic", "a b"];
        let ids: Vec<usize> = names.iter().map(|n| b.intern(n).expect("name")).collect();
        let names_set = b.build();
        let text = "aaa x.x. a  b axb coffee breaks coffee mics, aaaa a b";
        let found = names_set.occurrences(text);
        for (n, &id) in names.iter().zip(&ids) {
            assert_eq!(
                names_set.find_word(text, &found, id, usize::MAX),
                find_word(text, n),
                "{n}"
            );
        }
        let mut masked = text.to_owned();
        mask(&mut masked, 14..15); // "axb" → "a b"
        mask(&mut masked, 2..3);
        for (n, &id) in names.iter().zip(&ids) {
            assert_eq!(
                names_set.find_word(&masked, &found, id, 1),
                find_word(&masked, n),
                "{n}"
            );
        }
    }

    #[test]
    fn prepares_the_atelier() {
        let lexicon = atelier_lexicon();
        let p = PreparedLexicon::new(&lexicon);
        assert_eq!(p.lexicon(), &lexicon);
        let lens: Vec<usize> = p
            .product_names
            .iter()
            .map(|&(id, _)| p.products.patterns[id].len())
            .collect();
        assert!(lens.windows(2).all(|w| w[0] >= w[1]) || lens.is_empty());
    }
}
