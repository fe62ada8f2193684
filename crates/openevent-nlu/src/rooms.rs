//! Rooms (fuzzy against the lexicon: "room b", "Raum B", "salle B", "Room-B") and seating
//! layouts ("U-Form", "theatre style", "Stehempfang").

use std::sync::LazyLock;

use memchr::memmem::{self, Finder};
use openevent_core::event::Layout;
use openevent_core::ids::RoomId;

use crate::prepared::PreparedLexicon;
use crate::text::Re;

/// Lowercase, with `-`, `_` and `/` read as spaces (same byte length, so offsets hold).
pub fn fold(s: &str) -> String {
    s.to_lowercase().replace(['-', '_', '/'], " ")
}

/// Occurrences of `needle` in `hay` at word boundaries, allowing a plural suffix
/// ("flipcharts", "Stühle", "microphones"). Returns (start, end) byte offsets.
pub fn find_word(hay: &str, needle: &str) -> Vec<(usize, usize)> {
    if needle.is_empty() {
        return Vec::new();
    }
    memmem::find_iter(hay.as_bytes(), needle.as_bytes())
        .filter_map(|s| word_at(hay, needle, s))
        .collect()
}

/// `find_word` with a prepared searcher for `needle`.
pub(crate) fn find_word_with(hay: &str, needle: &str, finder: &Finder<'_>) -> Vec<(usize, usize)> {
    debug_assert_eq!(finder.needle(), needle.as_bytes());
    if needle.is_empty() {
        return Vec::new();
    }
    finder
        .find_iter(hay.as_bytes())
        .filter_map(|s| word_at(hay, needle, s))
        .collect()
}

/// The word `needle` found at byte `s` of `hay`, if it stands at word boundaries there, with
/// its plural suffix if any: the test `find_word` applies to each occurrence.
pub(crate) fn word_at(hay: &str, needle: &str, s: usize) -> Option<(usize, usize)> {
    let mut e = s + needle.len();
    let before_ok = hay[..s]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric());
    for suffix in ["es", "s", "en", "n", "e", "x"] {
        if hay[e..].starts_with(suffix)
            && hay[e + suffix.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric())
            && needle.chars().last().is_some_and(char::is_alphabetic)
            && needle.len() > 2
        {
            e += suffix.len();
            break;
        }
    }
    let after_ok = hay[e..].chars().next().is_none_or(|c| !c.is_alphanumeric());
    (before_ok && after_ok).then_some((s, e))
}

static OLD_ROOM: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?:instead of|rather than|not|than|from|statt|anstatt|anstelle von|nicht|als|von|au lieu de|pas|plutôt que|invece di|invece della|non|en lugar de|en vez de|de la|dalla)\s*(?:the\s+|den\s+|dem\s+|der\s+|la\s+|el\s+)?$",
    )
});

/// The room the client names; a room they move away from ("instead of Room A") loses.
/// Returns the spans of every room mention, for masking (so "room b" is never a count).
pub fn room(folded: &str, lexicon: &PreparedLexicon) -> (Option<RoomId>, Vec<(usize, usize)>) {
    let mut hits: Vec<(usize, bool, &RoomId)> = Vec::new();
    let mut spans = Vec::new();
    let found = lexicon.rooms.occurrences(folded);
    for &(pattern, entry) in &lexicon.room_names {
        for (s, e) in lexicon.rooms.find_word(folded, &found, pattern, usize::MAX) {
            let mut from = s.saturating_sub(16);
            while !folded.is_char_boundary(from) {
                from += 1;
            }
            let old = OLD_ROOM.is_match(&folded[from..s]);
            hits.push((s, old, &lexicon.lexicon().rooms[entry].id));
            spans.push((s, e));
        }
    }
    let best = hits
        .iter()
        .filter(|h| !h.1)
        .min_by_key(|h| h.0)
        .or_else(|| hits.iter().min_by_key(|h| h.0))
        .map(|h| h.2.clone());
    (best, spans)
}

static LAYOUTS: LazyLock<([Layout; 7], Re)> = LazyLock::new(|| {
    let table: [(Layout, &str); 7] = [
        (
            Layout::StandingReception,
            r"\b(?:standing|stehempfang|stehapéro|stehapero|stehtische|stehend|debout|in piedi|de pie)\b",
        ),
        (
            Layout::UShape,
            r"\b(?:u shape|u shaped|ushape|u form|u förmig|in u form|en u|a u|ferro di cavallo|en forma de u|forma a u|horseshoe)\b",
        ),
        (
            Layout::Theatre,
            r"\b(?:theatre|theater|reihenbestuhlung|konzertbestuhlung|théâtre|platea|teatro|auditorium style|rows of chairs|stuhlreihen)\b",
        ),
        (
            Layout::Classroom,
            r"\b(?:classroom|parlamentarische?|parlamentarischer|parlamentsbestuhlung|schulbestuhlung|schulungsbestuhlung|salle de classe|style école|disposizione a scuola|stile aula|aula|tipo escuela|estilo escuela)\b",
        ),
        (
            Layout::Boardroom,
            r"\b(?:boardroom|board room|konferenzbestuhlung|blocktafel|blockbestuhlung|table de réunion|tavolo imperiale|tavolo unico|mesa imperial|one big table|one large table|einem grossen tisch|einem großen tisch)\b",
        ),
        (
            Layout::Banquet,
            r"\b(?:banquet|bankett|bankettbestuhlung|round tables|runde tische|runden tischen|tables rondes|tavoli rotondi|mesas redondas)\b",
        ),
        (
            Layout::Workshop,
            r"\b(?:workshop (?:setup|set up|style|seating|layout|tables)|group tables|gruppentische|workshop bestuhlung|workshopbestuhlung|tables de groupe|îlots|isole di lavoro|islas de trabajo|cabaret)\b",
        ),
    ];
    let alternatives: Vec<String> = table.iter().map(|(_, p)| format!("({p})")).collect();
    (table.map(|(l, _)| l), Re::new(&alternatives.join("|")))
});

/// The first seating layout named, by position (at one position, the first in the table).
/// One pass: the layouts are alternatives of one pattern, one capture group each, and the
/// leftmost match prefers the first alternative that matches there.
pub fn layout(folded: &str) -> Option<Layout> {
    let (layouts, re) = &*LAYOUTS;
    let c = re.captures(folded)?;
    (1..=layouts.len())
        .find(|&i| c.get(i).is_some())
        .map(|i| layouts[i - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::atelier_lexicon;

    fn r(s: &str) -> Option<String> {
        room(&fold(s), &PreparedLexicon::new(&atelier_lexicon()))
            .0
            .map(|r| r.to_string())
    }

    #[test]
    fn rooms_fuzzy() {
        assert_eq!(r("Is room b free?").as_deref(), Some("room_b"));
        assert_eq!(r("im Raum B").as_deref(), Some("room_b"));
        assert_eq!(r("la salle B").as_deref(), Some("room_b"));
        assert_eq!(r("Room-B please").as_deref(), Some("room_b"));
        assert_eq!(r("Room C instead of Room A").as_deref(), Some("room_c"));
        assert_eq!(
            r("instead of Room A we take Room C").as_deref(),
            Some("room_c")
        );
        assert_eq!(r("room booking for 20"), None);
        assert_eq!(r("the sala bella"), None);
    }

    #[test]
    fn layouts() {
        assert_eq!(layout(&fold("in U-shape please")), Some(Layout::UShape));
        assert_eq!(layout(&fold("in U-Form")), Some(Layout::UShape));
        assert_eq!(
            layout(&fold("apéro riche standing")),
            Some(Layout::StandingReception)
        );
        assert_eq!(
            layout(&fold("als Stehempfang")),
            Some(Layout::StandingReception)
        );
        assert_eq!(layout(&fold("theatre style")), Some(Layout::Theatre));
        assert_eq!(layout(&fold("a workshop for 20")), None);
        assert_eq!(
            layout(&fold("workshop setup with group tables")),
            Some(Layout::Workshop)
        );
    }

    #[test]
    fn find_word_boundaries_and_plurals() {
        assert_eq!(find_word("2 flipcharts.", "flipchart"), vec![(2, 12)]);
        assert!(find_word("micromanage", "micro").is_empty());
        assert_eq!(find_word("mic", "mic"), vec![(0, 3)]);
    }
}
