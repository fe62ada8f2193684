//! Scores the NLU against the labelled corpus in `tests/fixtures/nlu/` and asserts accuracy
//! floors. `cargo test -p openevent-nlu --test corpus -- --nocapture` prints the report.

use std::path::PathBuf;

use openevent_nlu::corpus::{self, Case};
use openevent_nlu::report::{self, ENTITY_FIELDS, SIGNAL_NAMES};

fn load() -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/nlu");
    corpus::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn corpus_accuracy_floors() {
    let cases = load();
    let mut ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "duplicate case ids");
    let count = |prefix: &str| cases.iter().filter(|c| c.id.starts_with(prefix)).count();
    let (en, de) = (count("en-"), count("de-"));
    let romance = count("fr-") + count("it-") + count("es-");
    println!(
        "corpus: {} cases (en {en}, de {de}, fr/it/es {romance})",
        cases.len()
    );
    if std::env::var("NLU_PARTIAL").is_err() {
        assert!(cases.len() >= 300 && en >= 150 && de >= 80 && romance >= 70);
    }

    let r = report::evaluate(&cases);
    println!("{r}");
    let mut low = Vec::new();
    let floor = |field: &str, min: f64, low: &mut Vec<String>| {
        let acc = r.accuracy(field);
        if acc < min {
            low.push(format!(
                "{field}: {:.1} % < {:.0} %",
                acc * 100.0,
                min * 100.0
            ));
        }
    };
    floor("intent", 0.95, &mut low);
    floor("language", 0.95, &mut low);
    for f in ENTITY_FIELDS {
        floor(f, 0.95, &mut low);
    }
    for s in SIGNAL_NAMES {
        floor(s, 0.95, &mut low);
    }
    floor("change_type", 0.95, &mut low);
    assert!(low.is_empty(), "below floor: {low:?}");
}
