//! The demo/test lexicon of the reference venue "The Atelier". The shell builds the real one
//! from the venue configuration; ids here are exactly the venue's.
//!
//! Bare words that also name an event type ("dinner", "apéro") are deliberately not product
//! synonyms here: "a Christmas dinner for 40" is an event, not an order of three-course dinners.

use openevent_core::ids::{ProductId, RoomId};
use openevent_core::understanding::{Lexicon, LexiconEntry};

const ROOMS: &[(&str, &str)] = &[
    ("room_a", "A"),
    ("room_b", "B"),
    ("room_c", "C"),
    ("room_d", "D"),
    ("room_e", "E"),
    ("room_f", "F"),
];

const PRODUCTS: &[(&str, &[&str])] = &[
    (
        "classic_apero",
        &[
            "Classic Apéro",
            "classic apero",
            "klassischer Apéro",
            "apéro classique",
            "aperitivo classico",
            "aperitivo clásico",
        ],
    ),
    (
        "premium_apero",
        &[
            "Premium Apéro",
            "premium apero",
            "apéro riche",
            "apero riche",
            "aperitivo premium",
        ],
    ),
    (
        "basic_coffee_tea",
        &[
            "Basic Coffee & Tea",
            "coffee & tea",
            "coffee and tea",
            "coffee/tea",
            "Kaffee und Tee",
            "Kaffee & Tee",
            "café et thé",
            "café & thé",
            "caffè e tè",
            "café y té",
        ],
    ),
    (
        "coffee_snacks",
        &[
            "Coffee & Snacks",
            "coffee and snacks",
            "coffee break",
            "coffee breaks",
            "Kaffeepause",
            "Kaffeepausen",
            "pause café",
            "pause-café",
            "pausa caffè",
            "pausa caffe",
            "pausa café",
            "pausa de café",
        ],
    ),
    (
        "continental_breakfast",
        &[
            "Continental Breakfast",
            "breakfast",
            "Frühstück",
            "Zmorge",
            "petit-déjeuner",
            "petit déjeuner",
            "colazione",
            "desayuno",
        ],
    ),
    (
        "lunch_package",
        &[
            "Lunch Package",
            "lunch",
            "Mittagessen",
            "Lunchpaket",
            "déjeuner",
            "pranzo",
            "almuerzo",
        ],
    ),
    (
        "vegetarian_lunch",
        &[
            "Vegetarian Lunch",
            "vegetarian lunches",
            "vegetarisches Mittagessen",
            "vegetarischer Lunch",
            "déjeuner végétarien",
            "pranzo vegetariano",
            "almuerzo vegetariano",
        ],
    ),
    (
        "three_course_dinner",
        &[
            "Three-course Dinner",
            "three course dinner",
            "3-course dinner",
            "3 course dinner",
            "Dreigangmenü",
            "3-Gang-Menü",
            "3-Gänger",
            "dreigängiges Abendessen",
            "dîner trois plats",
            "menu trois plats",
            "cena di tre portate",
            "cena de tres platos",
        ],
    ),
    ("prosecco", &["Prosecco", "sparkling wine", "Schaumwein"]),
    (
        "projector",
        &[
            "Projector",
            "Beamer",
            "Projektor",
            "projecteur",
            "vidéoprojecteur",
            "proiettore",
            "proyector",
        ],
    ),
    (
        "wireless_microphone",
        &[
            "Wireless Microphone",
            "wireless mic",
            "microphone",
            "mic",
            "Funkmikrofon",
            "Funkmikro",
            "Mikrofon",
            "Mikro",
            "micro sans fil",
            "microphone sans fil",
            "micro",
            "microfono",
            "microfono wireless",
            "micrófono",
            "micrófono inalámbrico",
        ],
    ),
    (
        "flipchart",
        &[
            "Flipchart",
            "flip chart",
            "paperboard",
            "lavagna a fogli mobili",
            "lavagne a fogli mobili",
            "lavagna a fogli",
            "rotafolio",
            "rotafolios",
        ],
    ),
    (
        "hybrid_streaming_kit",
        &[
            "Hybrid Streaming Kit",
            "streaming kit",
            "hybrid kit",
            "livestream",
            "live stream",
            "streaming",
            "video conference kit",
            "kit de streaming",
            "kit streaming",
        ],
    ),
    (
        "photographer",
        &[
            "Photographer",
            "Fotograf",
            "Fotografin",
            "photographe",
            "fotografo",
            "fotógrafo",
        ],
    ),
    (
        "extra_chairs",
        &[
            "Extra Chairs",
            "additional chairs",
            "chairs",
            "zusätzliche Stühle",
            "Stühle",
            "chaises supplémentaires",
            "chaises",
            "sedie extra",
            "sedie aggiuntive",
            "sedie",
            "sillas adicionales",
            "sillas",
        ],
    ),
    (
        "wine_package",
        &[
            "Wine Package",
            "wine",
            "Weinpaket",
            "Wein",
            "forfait vin",
            "vin",
            "vino",
        ],
    ),
    ("dj", &["DJ", "disc jockey", "deejay"]),
    (
        "stage",
        &["Stage", "Bühne", "scène", "podium", "palco", "escenario"],
    ),
];

/// The Atelier's rooms and products with multilingual synonyms.
pub fn atelier_lexicon() -> Lexicon {
    let rooms = ROOMS
        .iter()
        .map(|(id, letter)| LexiconEntry {
            id: RoomId::parse(id).expect("static room id"),
            names: ["Room", "Raum", "Salle", "Sala", "Saal"]
                .iter()
                .map(|w| format!("{w} {letter}"))
                .collect(),
        })
        .collect();
    let products = PRODUCTS
        .iter()
        .map(|(id, names)| LexiconEntry {
            id: ProductId::parse(id).expect("static product id"),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
        })
        .collect();
    Lexicon { rooms, products }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_venues() {
        let l = atelier_lexicon();
        assert_eq!(l.rooms.len(), 6);
        assert_eq!(l.rooms[1].names[0], "Room B");
        assert_eq!(l.products.len(), 18);
        assert!(
            l.products
                .iter()
                .any(|p| p.id.as_str() == "hybrid_streaming_kit")
        );
    }
}
