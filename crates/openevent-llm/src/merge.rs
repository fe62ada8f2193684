//! The pure merge of the deterministic understanding with the model's answer.
//!
//! | field                                   | rule                                                       |
//! |-----------------------------------------|------------------------------------------------------------|
//! | `language`, every entity but event_type | the rules', always (dates, times, participants, room,      |
//! |                                         | layout, products, billing address, contact)                |
//! | `signals.has_injection_attempt`         | OR: the model may raise it, never clear it                 |
//! | any injection flag (rules' or model's)  | nothing else of the answer passes                          |
//! | `is_question`, `is_change_request`,     | OR: the model may set what the rules missed, never clear   |
//! | `is_manager_request`, `has_urgency`     |                                                            |
//! | `is_acceptance`                         | raised only when neither side says `is_rejection`          |
//! | `is_rejection`                          | raised only when neither side says `is_acceptance`         |
//! | `intent` (+ `confidence`)               | the model's only when the rules' confidence is below       |
//! |                                         | [`INTENT_OVERRIDE_BELOW`], the model's is higher, and it   |
//! |                                         | contradicts no hard fact (see [`intent_allowed`])          |
//! | `entities.event_type`                   | the model's (cleaned) only when the rules found none       |
//!
//! Each change is reported by name (`intent`, `confidence`, `signals.is_question`,
//! `entities.event_type`), for the booking's audit trail.

use openevent_core::understanding::{Confidence, Intent, Understanding};

use crate::answer::{LlmAnswer, clean_event_type};

/// The rules' intent stands when they are at least this sure (per mille).
pub const INTENT_OVERRIDE_BELOW: Confidence = Confidence::from_per_mille(850);

/// The deterministic understanding refined by the answer, and the names of the fields that
/// changed (empty when the answer added nothing).
pub fn merge(det: &Understanding, answer: &LlmAnswer) -> (Understanding, Vec<String>) {
    let mut out = det.clone();
    let mut changed = Vec::new();

    if answer.signals.has_injection_attempt && !det.signals.has_injection_attempt {
        out.signals.has_injection_attempt = true;
        changed.push("signals.has_injection_attempt".to_owned());
    }
    if out.signals.has_injection_attempt {
        // The message tried to steer the reader: the model may have been steered too.
        return (out, changed);
    }

    let (d, a) = (&det.signals, &answer.signals);
    let mut raise = |name: &str, wanted: bool, slot: &mut bool| {
        if wanted && !*slot {
            *slot = true;
            changed.push(format!("signals.{name}"));
        }
    };
    let s = &mut out.signals;
    raise("is_question", a.is_question, &mut s.is_question);
    raise(
        "is_change_request",
        a.is_change_request,
        &mut s.is_change_request,
    );
    raise(
        "is_manager_request",
        a.is_manager_request,
        &mut s.is_manager_request,
    );
    raise("has_urgency", a.has_urgency, &mut s.has_urgency);
    let accept = a.is_acceptance && !a.is_rejection && !d.is_rejection;
    raise("is_acceptance", accept, &mut s.is_acceptance);
    let reject = a.is_rejection && !a.is_acceptance && !d.is_acceptance;
    raise("is_rejection", reject, &mut s.is_rejection);

    if answer.intent != det.intent
        && det.confidence < INTENT_OVERRIDE_BELOW
        && answer.confidence > det.confidence
        && intent_allowed(det, answer.intent)
    {
        out.intent = answer.intent;
        out.confidence = answer.confidence;
        changed.push("intent".to_owned());
        changed.push("confidence".to_owned());
    }

    if det.entities.event_type.is_none()
        && let Some(kind) = answer.event_type.as_deref().and_then(clean_event_type)
    {
        out.entities.event_type = Some(kind);
        changed.push("entities.event_type".to_owned());
    }

    (out, changed)
}

/// Whether the model's intent may replace the rules' one, given what the rules found:
/// - not `non_event` when the rules found a date or a head count (a booking fact);
/// - not `accept_offer` when the rules read a rejection, not `decline_offer` when they read an
///   acceptance.
pub fn intent_allowed(det: &Understanding, intent: Intent) -> bool {
    let e = &det.entities;
    match intent {
        Intent::NonEvent => e.date.is_none() && e.participants.is_none(),
        Intent::AcceptOffer => !det.signals.is_rejection,
        Intent::DeclineOffer => !det.signals.is_acceptance,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use openevent_core::RoomId;
    use openevent_core::understanding::{Entities, Language, Signals};

    fn det(intent: Intent, pm: u16) -> Understanding {
        Understanding {
            language: Language::De,
            intent,
            confidence: Confidence::from_per_mille(pm),
            entities: Entities {
                date: Some(date(2026, 3, 17)),
                participants: Some(30),
                room: Some(RoomId::parse("room_b").unwrap()),
                ..Entities::default()
            },
            signals: Signals::default(),
        }
    }

    fn ans(intent: Intent, pm: u16) -> LlmAnswer {
        LlmAnswer {
            intent,
            confidence: Confidence::from_per_mille(pm),
            signals: Signals::default(),
            event_type: None,
        }
    }

    #[test]
    fn an_agreeing_answer_changes_nothing() {
        let d = det(Intent::EventRequest, 900);
        let (m, changed) = merge(&d, &ans(Intent::EventRequest, 990));
        assert_eq!(m, d);
        assert!(changed.is_empty());
    }

    /// (rules' confidence, model's confidence, intent replaced?)
    #[test]
    fn intent_threshold_table() {
        let table = [
            (500, 900, true),
            (849, 850, true),
            (849, 849, false), // not higher
            (849, 700, false), // lower
            (850, 990, false), // the rules are sure enough
            (950, 1000, false),
            (0, 1, true),
        ];
        for (rules, model, replaced) in table {
            let d = det(Intent::GeneralQna, rules);
            let (m, changed) = merge(&d, &ans(Intent::SiteVisitRequest, model));
            assert_eq!(
                m.intent == Intent::SiteVisitRequest,
                replaced,
                "rules {rules} model {model}"
            );
            if replaced {
                assert_eq!(m.confidence.per_mille(), model);
                assert_eq!(changed, ["intent", "confidence"]);
            } else {
                assert_eq!(m, d);
                assert!(changed.is_empty());
            }
        }
    }

    #[test]
    fn non_event_cannot_override_booking_facts() {
        let d = det(Intent::EventRequest, 400);
        assert_eq!(
            merge(&d, &ans(Intent::NonEvent, 990)).0.intent,
            Intent::EventRequest
        );
        let mut bare = d.clone();
        bare.entities.participants = None;
        assert_eq!(
            merge(&bare, &ans(Intent::NonEvent, 990)).0.intent,
            Intent::EventRequest
        );
        bare.entities.date = None;
        assert_eq!(
            merge(&bare, &ans(Intent::NonEvent, 990)).0.intent,
            Intent::NonEvent
        );
    }

    #[test]
    fn decisive_intents_cannot_contradict_the_rules_signals() {
        let mut d = det(Intent::GeneralQna, 500);
        d.signals.is_rejection = true;
        assert_eq!(
            merge(&d, &ans(Intent::AcceptOffer, 990)).0.intent,
            Intent::GeneralQna
        );
        assert_eq!(
            merge(&d, &ans(Intent::DeclineOffer, 990)).0.intent,
            Intent::DeclineOffer
        );
        let mut d = det(Intent::GeneralQna, 500);
        d.signals.is_acceptance = true;
        assert_eq!(
            merge(&d, &ans(Intent::DeclineOffer, 990)).0.intent,
            Intent::GeneralQna
        );
        assert_eq!(
            merge(&d, &ans(Intent::AcceptOffer, 990)).0.intent,
            Intent::AcceptOffer
        );
    }

    #[test]
    fn signals_are_only_raised_never_cleared() {
        let mut d = det(Intent::EventRequest, 900);
        d.signals.is_question = true;
        d.signals.has_urgency = true;
        let mut a = ans(Intent::EventRequest, 900);
        a.signals.is_manager_request = true;
        a.signals.is_change_request = true;
        // The answer says false for is_question and has_urgency: they stay true.
        let (m, changed) = merge(&d, &a);
        assert!(m.signals.is_question && m.signals.has_urgency);
        assert!(m.signals.is_manager_request && m.signals.is_change_request);
        assert_eq!(
            changed,
            ["signals.is_change_request", "signals.is_manager_request"]
        );
    }

    #[test]
    fn acceptance_and_rejection_exclude_each_other() {
        // (rules accept, rules reject, model accepts, model rejects) -> (accept, reject)
        let table = [
            ((false, false, true, false), (true, false)),
            ((false, false, false, true), (false, true)),
            ((false, false, true, true), (false, false)), // the model contradicts itself
            ((false, true, true, false), (false, true)),  // the rules read a rejection
            ((true, false, false, true), (true, false)),  // the rules read an acceptance
            ((true, false, true, false), (true, false)),
        ];
        for ((ra, rr, ma, mr), (accept, reject)) in table {
            let mut d = det(Intent::EventRequest, 900);
            d.signals.is_acceptance = ra;
            d.signals.is_rejection = rr;
            let mut a = ans(Intent::EventRequest, 900);
            a.signals.is_acceptance = ma;
            a.signals.is_rejection = mr;
            let (m, _) = merge(&d, &a);
            assert_eq!(
                (m.signals.is_acceptance, m.signals.is_rejection),
                (accept, reject),
                "{:?}",
                (ra, rr, ma, mr)
            );
        }
    }

    #[test]
    fn a_rules_injection_flag_blocks_the_whole_answer() {
        let mut d = det(Intent::GeneralQna, 300);
        d.signals.has_injection_attempt = true;
        let a = LlmAnswer {
            intent: Intent::AcceptOffer,
            confidence: Confidence::from_per_mille(1000),
            signals: Signals {
                is_acceptance: true,
                is_question: true,
                has_injection_attempt: false, // "there was no injection"
                ..Signals::default()
            },
            event_type: Some("free booking".into()),
        };
        let (m, changed) = merge(&d, &a);
        assert_eq!(m, d);
        assert!(changed.is_empty());
    }

    #[test]
    fn the_model_may_raise_the_injection_flag_and_then_adds_nothing_else() {
        let d = det(Intent::GeneralQna, 300);
        let mut a = ans(Intent::AcceptOffer, 990);
        a.signals.has_injection_attempt = true;
        a.signals.is_acceptance = true;
        a.event_type = Some("wedding".into());
        let (m, changed) = merge(&d, &a);
        assert!(m.signals.has_injection_attempt);
        assert!(!m.signals.is_acceptance);
        assert_eq!(m.intent, Intent::GeneralQna);
        assert_eq!(m.entities, d.entities);
        assert_eq!(changed, ["signals.has_injection_attempt"]);
    }

    #[test]
    fn event_type_only_fills_a_gap_and_only_when_plain() {
        let mut a = ans(Intent::EventRequest, 900);
        a.event_type = Some("Workshop".into());
        let d = det(Intent::EventRequest, 900);
        let (m, changed) = merge(&d, &a);
        assert_eq!(m.entities.event_type.as_deref(), Some("workshop"));
        assert_eq!(changed, ["entities.event_type"]);

        let mut known = d.clone();
        known.entities.event_type = Some("wedding".into());
        assert_eq!(merge(&known, &a).0, known);

        // Built by hand, bypassing `parse`: the merge still refuses a non-plain value.
        a.event_type = Some("price: CHF 0".into());
        assert_eq!(merge(&d, &a).0, d);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::answer::INTENTS;
    use jiff::civil::Date;
    use openevent_core::event::{Layout, TimeOfDay};
    use openevent_core::ids::ProductId;
    use openevent_core::understanding::{
        BillingAddress, Contact, Entities, Language, ProductMention, Signals,
    };
    use proptest::prelude::*;

    fn intent() -> impl Strategy<Value = Intent> {
        (0..INTENTS.len()).prop_map(|i| INTENTS[i])
    }

    fn signals() -> impl Strategy<Value = Signals> {
        proptest::array::uniform7(any::<bool>()).prop_map(|b| Signals {
            is_acceptance: b[0],
            is_rejection: b[1],
            is_change_request: b[2],
            is_question: b[3],
            is_manager_request: b[4],
            has_urgency: b[5],
            has_injection_attempt: b[6],
        })
    }

    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[A-Za-z0-9 ,.:'-]{0,30}")
    }

    fn entities() -> impl Strategy<Value = Entities> {
        let date = proptest::option::of((2025i16..2030, 1i8..=12, 1i8..=28))
            .prop_map(|d| d.map(|(y, m, dd)| Date::new(y, m, dd).unwrap()));
        let time = || {
            proptest::option::of((0i8..24, 0i8..60))
                .prop_map(|t| t.map(|(h, m)| TimeOfDay::new(h, m).unwrap()))
        };
        let products =
            proptest::collection::vec(("[a-z_]{1,12}", proptest::option::of(0u32..500)), 0..3)
                .prop_map(|v| {
                    v.into_iter()
                        .map(|(id, quantity)| ProductMention {
                            product_id: ProductId::parse(&id).unwrap(),
                            quantity,
                        })
                        .collect::<Vec<_>>()
                });
        let layouts = [
            Layout::Theatre,
            Layout::UShape,
            Layout::Classroom,
            Layout::Boardroom,
            Layout::Banquet,
            Layout::Workshop,
            Layout::StandingReception,
        ];
        (
            (date.clone(), date, time(), time()),
            (
                proptest::option::of(1u32..2_000),
                proptest::option::of("[a-z_]{1,10}"),
                proptest::option::of(0..layouts.len()),
            ),
            (products.clone(), products),
            (
                proptest::option::of((opt_text(), opt_text(), opt_text(), opt_text())),
                proptest::option::of((opt_text(), opt_text())),
                opt_text(),
            ),
        )
            .prop_map(
                move |(
                    (date, date_end, start_time, end_time),
                    (participants, room, layout),
                    (products_add, products_remove),
                    (billing, contact, event_type),
                )| Entities {
                    date,
                    date_end,
                    date_preference: None,
                    start_time,
                    end_time,
                    participants,
                    room: room.map(|r| openevent_core::RoomId::parse(&r).unwrap()),
                    layout: layout.map(|i| layouts[i]),
                    products_add,
                    products_remove,
                    billing_address: billing.map(|(n, s, p, c)| BillingAddress {
                        name_or_company: n,
                        street: s,
                        postal_code: p,
                        city: c,
                        country: Some("CH".into()),
                    }),
                    contact: contact.map(|(name, phone)| Contact {
                        name,
                        phone,
                        company: None,
                    }),
                    event_type,
                },
            )
    }

    fn understanding() -> impl Strategy<Value = Understanding> {
        let languages = [
            Language::En,
            Language::De,
            Language::Fr,
            Language::It,
            Language::Es,
        ];
        (
            0..languages.len(),
            intent(),
            0u16..=1000,
            entities(),
            signals(),
        )
            .prop_map(move |(l, intent, pm, entities, signals)| Understanding {
                language: languages[l],
                intent,
                confidence: Confidence::from_per_mille(pm),
                entities,
                signals,
            })
    }

    fn answer() -> impl Strategy<Value = LlmAnswer> {
        (
            intent(),
            0u16..=1000,
            signals(),
            proptest::option::of("[A-Za-z0-9 :,'-]{0,50}"),
        )
            .prop_map(|(intent, pm, signals, event_type)| LlmAnswer {
                intent,
                confidence: Confidence::from_per_mille(pm),
                signals,
                event_type,
            })
    }

    proptest! {
        #[test]
        fn hard_facts_are_always_preserved(d in understanding(), a in answer()) {
            let (m, _) = merge(&d, &a);
            // Every entity but event_type, and the language: the rules', always.
            let mut facts = m.entities.clone();
            facts.event_type = d.entities.event_type.clone();
            prop_assert_eq!(&facts, &d.entities);
            prop_assert_eq!(m.language, d.language);
            // event_type only ever fills a gap.
            if d.entities.event_type.is_some() {
                prop_assert_eq!(&m.entities.event_type, &d.entities.event_type);
            }
        }

        #[test]
        fn signals_never_drop_and_injection_blocks(d in understanding(), a in answer()) {
            let (m, changed) = merge(&d, &a);
            let (before, after) = (d.signals, m.signals);
            for (b, x) in [
                (before.is_acceptance, after.is_acceptance),
                (before.is_rejection, after.is_rejection),
                (before.is_change_request, after.is_change_request),
                (before.is_question, after.is_question),
                (before.is_manager_request, after.is_manager_request),
                (before.has_urgency, after.has_urgency),
                (before.has_injection_attempt, after.has_injection_attempt),
            ] {
                prop_assert!(!b || x);
            }
            prop_assert!(!(after.is_acceptance && after.is_rejection) || (before.is_acceptance && before.is_rejection));
            if before.has_injection_attempt || a.signals.has_injection_attempt {
                let mut expected = d.clone();
                expected.signals.has_injection_attempt = true;
                prop_assert_eq!(&m, &expected);
            }
            if d.confidence >= INTENT_OVERRIDE_BELOW {
                prop_assert_eq!(m.intent, d.intent);
                prop_assert_eq!(m.confidence, d.confidence);
            }
            // Nothing changes unreported, and nothing reported is unchanged.
            let reported = |name: &str| changed.iter().any(|c| c == name);
            prop_assert_eq!(reported("intent"), m.intent != d.intent);
            prop_assert_eq!(reported("entities.event_type"), m.entities.event_type != d.entities.event_type);
            prop_assert_eq!(reported("signals.is_question"), after.is_question != before.is_question);
            prop_assert_eq!(
                reported("signals.has_injection_attempt"),
                after.has_injection_attempt != before.has_injection_attempt
            );
        }
    }
}
