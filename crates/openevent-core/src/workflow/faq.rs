//! Answers from the venue FAQ: a topic matches when one of its keywords appears in the message.

use crate::understanding::Language;
use crate::venue::Venue;

/// The answers whose keywords the text mentions, in FAQ order.
pub fn answers(venue: &Venue, text: &str, lang: Language) -> Vec<String> {
    let lower = text.to_lowercase();
    venue
        .spec()
        .faq
        .iter()
        .filter(|q| {
            q.keywords
                .iter()
                .any(|k| contains_word(&lower, &k.to_lowercase()))
        })
        .map(|q| q.answer.in_language(lang).to_owned())
        .collect()
}

/// Whole-word (or whole-phrase) containment, so "car" does not match "card".
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_whole_words_in_the_clients_language() {
        let v = Venue::atelier();
        let a = answers(&v, "Is there parking nearby?", Language::En);
        assert_eq!(a.len(), 1);
        assert!(a[0].contains("50 underground"));
        let de = answers(
            &v,
            "Gibt es Parkplätze? Und ist alles barrierefrei?",
            Language::De,
        );
        assert_eq!(de.len(), 2, "{de:?}");
        assert!(answers(&v, "I lost my credit card", Language::En).is_empty());
        let both = answers(
            &v,
            "What about parking and wheelchair access?",
            Language::En,
        );
        assert_eq!(both.len(), 2);
    }
}
