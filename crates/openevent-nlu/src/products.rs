//! Products to add or remove, matched against the lexicon (synonyms, plurals, other
//! languages), with quantities: "add another wireless microphone" → +1, "2 flipcharts" → +2,
//! "no projector needed", "remove the prosecco", "ohne Beamer" → remove.
//!
//! Each mention takes the polarity of the last cue before it in its clause ("remove the
//! prosecco and add a DJ"), else of a cue after it ("den Beamer bitte streichen"), else add.
//! Mentions in a question about what exists ("Do you have a projector?") are not orders.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use openevent_core::understanding::ProductMention;

use crate::prepared::PreparedLexicon;
use crate::rooms::find_word_with;
use crate::text::Re;
use crate::text::{mask, number_word, sentence_at};

static REMOVE_BEFORE: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"\b(?:no|without|remove|drop|cancel|delete|skip|exclude|don't need|do not need|no longer need|won't need|will not need|not need|no need for|take out|take off|instead of|rather than|ohne|kein|keine|keinen|keinem|streichen|weglassen|entfernen|verzichten|statt|anstatt|anstelle|sans|pas de|supprimer|retirer|enlever|annuler|au lieu d|senza|niente|nessun|nessuna|togliere|rimuovere|eliminare|annullare|invece d|sin|quitar|eliminar|cancelar|ningún|ninguna|en lugar d|en vez d)\b",
    )
});

static ADD_BEFORE: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"\b(?:add|also|plus|include|need|want|would like|like to have|book|order|get|with|mit|dazu|hinzufügen|ergänzen|zusätzlich|gerne|ajouter|avec|aussi|également|aggiungere|anche|con|añadir|agregar|también|incluir|but|aber|mais|ma|pero|however|jedoch|instead|stattdessen|plutôt|invece|en cambio)\b",
    )
});

static REMOVE_AFTER: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"\b(?:not needed|not necessary|no longer needed|isn't needed|is not needed|aren't needed|are not needed|can be removed|can go|can be dropped|nicht nötig|nicht notwendig|nicht mehr|nicht benötigt|brauchen wir (?:\w+ )?nicht|benötigen wir (?:\w+ )?nicht|streichen|weglassen|entfernen|n'est pas nécessaire|ne sont pas nécessaires|pas nécessaire|n'est plus nécessaire|non serve|non servono|non è necessario|non necessario|no es necesario|no hace falta|no necesitamos|ya no)\b",
    )
});

static EXISTENCE_QUESTION: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"\b(?:do you have|do you offer|is there|are there|is the|are the|does the|does it|included|gibt es|haben sie|habt ihr|hat der|hat es|inbegriffen|inklusive|avez vous|avez-vous|y a t il|y a-t-il|inclus|incluse|avete|c'è|ci sono|incluso|inclusa|tienen|hay|incluido|incluida|what does|how much|wie viel|was kostet|combien|quanto costa|cuánto)\b",
    )
});

static QTY_BEFORE: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?:\b(\d{1,3})\s*(?:x\s*)?|\b(another|one more|an additional|a further|a second|ein weiteres|einen weiteren|eine weitere|ein zusätzliches|einen zusätzlichen|un autre|une autre|un altro|un'altra|otro|otra)\s+|\b([a-zäöüéèíóúñ]+)\s+)(?:(?:extra|additional|more|wireless|handheld|zusätzliche|zusätzlichen|weitere|weiteren|supplémentaires|aggiuntivi|aggiuntive|adicionales|kleine|grosse|große|small|large|big)\s+){0,2}(?:the\s+|die\s+|den\s+)?$",
    )
});

static QTY_AFTER: LazyLock<Re> =
    LazyLock::new(|| Re::new(r"^\s*(?:\(\s*)?(?:x\s*(\d{1,3})|(\d{1,3})\s*x\b|×\s*(\d{1,3}))"));

const STOP_PHRASES: &[&str] = &[
    "at this stage",
    "at a later stage",
    "at that stage",
    "early stage",
    "stage of",
    "podium discussion",
    "lunch break",
    "mittagspause",
    "pause déjeuner",
];

static STOP_FINDERS: LazyLock<Vec<Finder<'static>>> =
    LazyLock::new(|| STOP_PHRASES.iter().map(Finder::new).collect());

/// Products added, products removed (in order of first mention, one entry per product), and
/// the spans of every product mention ("three-course dinner" is a product, not an event type).
pub fn extract(
    folded: &str,
    lexicon: &PreparedLexicon,
) -> (
    Vec<ProductMention>,
    Vec<ProductMention>,
    Vec<(usize, usize)>,
) {
    let mut work = folded.to_owned();
    for (stop, finder) in STOP_PHRASES.iter().zip(STOP_FINDERS.iter()) {
        for (s, e) in find_word_with(folded, stop, finder) {
            mask(&mut work, s..e);
        }
    }
    // Longest names first; each mention is masked so a shorter name inside it ("coffee" in
    // "coffee break") cannot match again.
    let found = lexicon.products.occurrences(&work);
    let mut min_masked = usize::MAX;
    let mut mentions: Vec<(usize, usize, usize)> = Vec::new();
    let present = lexicon.products.present(&found);
    for &(pattern, entry) in &lexicon.product_names {
        if !lexicon.products.may_find(&present, pattern, min_masked) {
            continue;
        }
        for (s, e) in lexicon
            .products
            .find_word(&work, &found, pattern, min_masked)
        {
            mentions.push((s, e, entry));
            mask(&mut work, s..e);
            min_masked = min_masked.min(e - s);
        }
    }
    mentions.sort_by_key(|m| m.0);
    let spans = mentions.iter().map(|m| (m.0, m.1)).collect();
    let mut seen: Vec<usize> = Vec::new();
    let mut add: Vec<ProductMention> = Vec::new();
    let mut remove: Vec<ProductMention> = Vec::new();
    for (s, e, id) in mentions {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        if folded[e..].starts_with("'s") || folded[e..].starts_with("’s") {
            continue; // "the photographer's pictures": about it, not an order
        }
        let sentence = sentence_at(folded, s);
        if sentence.trim_end().ends_with('?')
            && EXISTENCE_QUESTION.is_match(sentence)
            && !asks_to_add(sentence)
        {
            continue;
        }
        let (clause_start, clause_end) = clause(folded, s, e);
        let before = &folded[clause_start..s];
        let after = &folded[e..clause_end];
        // Compared by where each cue ends: "won't need" beats the "need" inside it.
        let last_remove = REMOVE_BEFORE.find_iter(before).last().map(|m| m.end());
        let last_add = ADD_BEFORE.find_iter(before).last().map(|m| m.end());
        let removing = match (last_remove, last_add) {
            (Some(r), Some(a)) => r >= a,
            (Some(_), None) => true,
            (None, _) => REMOVE_AFTER.is_match(after),
        };
        let mention = ProductMention {
            product_id: lexicon.lexicon().products[id].id.clone(),
            quantity: quantity(&folded[clause_start..s], after),
        };
        if removing {
            remove.push(ProductMention {
                quantity: None,
                ..mention
            });
        } else {
            add.push(mention);
        }
    }
    (add, remove, spans)
}

fn asks_to_add(sentence: &str) -> bool {
    [
        "could we add",
        "can we add",
        "could you add",
        "can you add",
        "können wir",
        "könnten wir",
        "pouvons-nous ajouter",
        "pourriez-vous ajouter",
        "possiamo aggiungere",
        "podemos añadir",
        "could we also have",
        "can we also have",
        "could we get",
        "can we get",
    ]
    .iter()
    .any(|p| sentence.contains(p))
}

/// The clause around a mention: up to sentence punctuation or a comma.
fn clause(text: &str, s: usize, e: usize) -> (usize, usize) {
    let start = text[..s]
        .rfind(['.', ',', ';', '!', '?', '\n', ':', '('])
        .map_or(0, |i| i + 1);
    let end = text[e..]
        .find(['.', ',', ';', '!', '?', '\n', ')'])
        .map_or(text.len(), |i| e + i);
    (start, end)
}

fn quantity(before: &str, after: &str) -> Option<u32> {
    // A quantity sits right before the name; the last 48 bytes are plenty and keep this cheap.
    let mut from = before.len().saturating_sub(48);
    while !before.is_char_boundary(from) {
        from += 1;
    }
    let before = &before[from..];
    if let Some(c) = QTY_AFTER.captures(after) {
        return (1..=3)
            .find_map(|i| c.get(i))
            .and_then(|m| m.as_str().parse().ok());
    }
    let c = QTY_BEFORE.captures(before)?;
    if let Some(d) = c.get(1) {
        return d.as_str().parse().ok().filter(|n| *n > 0);
    }
    if c.get(2).is_some() {
        return Some(1);
    }
    let w = c.get(3)?.as_str();
    if w == "one" || w == "eins" {
        return Some(1);
    }
    number_word(w).filter(|n| *n >= 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::atelier_lexicon;
    use crate::rooms::fold;

    fn run(s: &str) -> (Vec<(String, Option<u32>)>, Vec<String>) {
        let (a, r, _) = extract(&fold(s), &PreparedLexicon::new(&atelier_lexicon()));
        (
            a.into_iter()
                .map(|m| (m.product_id.to_string(), m.quantity))
                .collect(),
            r.into_iter().map(|m| m.product_id.to_string()).collect(),
        )
    }

    #[test]
    fn adds_with_quantities() {
        let (a, r) = run("Could you add another wireless microphone?");
        assert_eq!(a, vec![("wireless_microphone".into(), Some(1))]);
        assert!(r.is_empty());
        assert_eq!(
            run("We need 2 flipcharts and a projector.").0,
            vec![("flipchart".into(), Some(2)), ("projector".into(), None)]
        );
        assert_eq!(
            run("three extra mics please").0,
            vec![("wireless_microphone".into(), Some(3))]
        );
        assert_eq!(run("Flipchart x2").0, vec![("flipchart".into(), Some(2))]);
        assert_eq!(
            run("für 30 Personen mit Kaffeepause").0,
            vec![("coffee_snacks".into(), None)]
        );
    }

    #[test]
    fn removals() {
        assert_eq!(run("no projector needed").1, vec!["projector"]);
        assert_eq!(
            run("Please remove the prosecco and add a DJ."),
            (vec![("dj".into(), None)], vec!["prosecco".into()])
        );
        assert_eq!(run("ohne Beamer").1, vec!["projector"]);
        assert_eq!(
            run("Den Beamer brauchen wir nicht mehr.").1,
            vec!["projector"]
        );
        assert_eq!(
            run("le projecteur n'est pas nécessaire").1,
            vec!["projector"]
        );
    }

    #[test]
    fn questions_and_noise_are_not_orders() {
        assert_eq!(run("Do you have a projector in Room B?"), (vec![], vec![]));
        assert_eq!(run("At this stage we are not sure."), (vec![], vec![]));
        assert_eq!(run("Kind regards, Anna"), (vec![], vec![]));
    }
}
