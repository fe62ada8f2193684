//! The kind of event, as lowercase English ("workshop", "christmas party", "apéro").
//! The first mention by position wins; compound words are listed before their parts.

use std::sync::LazyLock;

use crate::text::{Re, fold_to_ascii};

const TYPES: &[(&str, &str)] = &[
    (
        "christmas party",
        r"christmas (?:party|dinner|event|celebration|lunch|apéro|apero)|xmas (?:party|dinner)|holiday party|weihnachtsfeier|weihnachtsessen|weihnachtsanlass|weihnachtsapéro|weihnachtsapero|fête de noël|soirée de noël|repas de noël|festa di natale|cena di natale|fiesta de navidad|cena de navidad|comida de navidad",
    ),
    (
        "team event",
        r"team event|teamevent|team building|teambuilding|team day|teamtag|teamanlass|team offsite|offsite|team outing|teamausflug|sortie d'équipe|journée d'équipe|evento di team|giornata di team|evento de equipo|jornada de equipo",
    ),
    (
        "product launch",
        r"product launch|launch event|produktlancierung|produktlaunch|lancement de produit|lancio (?:di )?prodotto|lanzamiento",
    ),
    (
        "general assembly",
        r"general assembly|annual general meeting|agm|generalversammlung|mitgliederversammlung|assemblée générale|assemblea generale|junta general|asamblea general",
    ),
    (
        "board meeting",
        r"board meeting|verwaltungsratssitzung|vr-sitzung|conseil d'administration|consiglio di amministrazione|reunión del consejo",
    ),
    (
        "summer party",
        r"summer party|sommerfest|sommerparty|fête d'été|festa d'estate|fiesta de verano",
    ),
    (
        "farewell party",
        r"farewell (?:party|apéro|apero|dinner)|abschiedsfeier|abschiedsapéro|abschiedsapero|pot de départ|festa d'addio|fiesta de despedida",
    ),
    (
        "anniversary",
        r"anniversary|jubiläum|firmenjubiläum|anniversaire d'entreprise|anniversario aziendale|aniversario",
    ),
    (
        "wedding",
        r"wedding|hochzeit|hochzeitsfeier|mariage|matrimonio|boda",
    ),
    (
        "birthday",
        r"birthday|geburtstag|geburtstagsfeier|geburtstagsparty|anniversaire|compleanno|cumpleaños",
    ),
    (
        "conference",
        r"conference|konferenz|tagung|congress|kongress|conférence|colloque|congrès|conferenza|convegno|congresso|conferencia|congreso",
    ),
    ("seminar", r"seminar|séminaire|seminario"),
    ("workshop", r"workshop|workshops|atelier de travail"),
    (
        "training",
        r"training|schulung|weiterbildung|formation|formazione|capacitación|curso",
    ),
    (
        "meeting",
        r"meeting|sitzung|besprechung|réunion|riunione|reunión|kick-off|kickoff",
    ),
    (
        "networking event",
        r"networking|netzwerkanlass|netzwerkevent",
    ),
    (
        "lecture",
        r"lecture|vortrag|referat|conférence publique|lezione|charla",
    ),
    ("reception", r"reception|empfang|stehempfang|ricevimento"),
    ("dinner", r"dinner|abendessen|nachtessen|dîner|cena|diner"),
    (
        "lunch",
        r"business lunch|geschäftsessen|mittagessen mit kunden|déjeuner d'affaires|pranzo di lavoro|almuerzo de trabajo",
    ),
    ("apéro", r"apéro|apero|aperitif|apéritif|aperitivo|cocktail"),
    ("party", r"party|feier|fête|soirée|festa|fiesta"),
];

/// Every type in one pattern, `(\b(?:type)s?\b)` per type in rank order, one capture group
/// each. The leftmost match starts where the earliest type is named, and among the types
/// named there the regex prefers the first alternative: the lowest rank. That is the rule
/// below, with one pass over the text instead of one per type.
static COMBINED: LazyLock<Re> = LazyLock::new(|| {
    let alternatives: Vec<String> = TYPES
        .iter()
        .map(|(_, p)| format!(r"(\b(?:{p})s?\b)"))
        .collect();
    Re::new(&fold_to_ascii(&alternatives.join("|")))
});

/// The event type named first in the text; ties at one position go to the more specific type.
/// Matched on the ASCII folding of the text: Unicode word boundaries on accented text would
/// drop this large pattern to the regex crate's slowest engine.
pub fn extract(lower: &str) -> Option<String> {
    let folded = fold_to_ascii(lower);
    let c = COMBINED.captures(&folded)?;
    let rank = (1..=TYPES.len()).find(|&i| c.get(i).is_some())?;
    Some(TYPES[rank - 1].0.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        assert_eq!(
            extract("our christmas dinner for 40").as_deref(),
            Some("christmas party")
        );
        assert_eq!(
            extract("unsere weihnachtsfeier").as_deref(),
            Some("christmas party")
        );
        assert_eq!(
            extract("a workshop followed by dinner").as_deref(),
            Some("workshop")
        );
        assert_eq!(
            extract("un apéro après la conférence").as_deref(),
            Some("apéro")
        );
        assert_eq!(extract("la boda de mi hermana").as_deref(), Some("wedding"));
        assert_eq!(extract("hello there"), None);
    }

    #[test]
    fn one_group_per_type() {
        assert_eq!(COMBINED.captures_len(), TYPES.len() + 1);
    }
}
