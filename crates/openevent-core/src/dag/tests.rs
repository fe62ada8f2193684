use jiff::civil::date;
use proptest::prelude::*;

use super::*;
use crate::event::Requirements;
use crate::ids::{ClientEmail, EventId};

const NOW: Timestamp = Timestamp::UNIX_EPOCH;

fn event_at(step: Step, caller: Option<Step>, hashes_match: bool) -> Event {
    let mut e = Event::new_lead(
        EventId::parse("evt_t").unwrap(),
        ClientEmail::parse("c@example.com").unwrap(),
        NOW,
    );
    e.set_requirements(Requirements {
        number_of_participants: Some(24),
        ..Requirements::default()
    });
    e.current_step = step;
    e.caller_step = caller;
    e.locked_room_id = Some(RoomId::parse("room_b").unwrap());
    e.room_eval_hash = Some(if hashes_match {
        e.requirements_hash().to_owned()
    } else {
        "stale".to_owned()
    });
    e
}

/// The routing table restated independently, row by row, as the oracle.
fn expected(
    change: ChangeType,
    from: Step,
    caller: Option<Step>,
    hashes_match: bool,
    current: Step,
) -> NextStepDecision {
    let with_caller = |target: Step| match caller {
        Some(c) => Some(c),
        None if from == target => None,
        None => Some(from),
    };
    let d = |next_step, updated_caller_step, needs_reeval, skip_reason, maybe_run_step3| {
        NextStepDecision {
            next_step,
            maybe_run_step3,
            updated_caller_step,
            needs_reeval,
            skip_reason,
        }
    };
    use ChangeType as C;
    use SkipReason as S;
    let mut want = match (change, hashes_match) {
        (C::Date, _) => d(
            Step::DateConfirmation,
            with_caller(Step::DateConfirmation),
            true,
            None,
            true,
        ),
        (C::Room, _) => d(
            Step::RoomAvailability,
            with_caller(Step::RoomAvailability),
            true,
            None,
            false,
        ),
        (C::Requirements, false) => d(
            Step::RoomAvailability,
            with_caller(Step::RoomAvailability),
            true,
            None,
            false,
        ),
        (C::Requirements, true) => d(
            caller.unwrap_or(Step::Offer),
            None,
            false,
            Some(S::RequirementsHashMatch),
            false,
        ),
        (C::Products, _) => d(Step::Offer, caller, true, Some(S::ProductsOnly), false),
        (C::Commercial, _) => d(Step::Negotiation, caller, true, None, false),
        (C::Deposit, _) => d(Step::Confirmation, caller, true, None, false),
        (C::SiteVisit, _) => d(
            Step::Confirmation,
            caller,
            false,
            Some(S::SiteVisitReschedule),
            false,
        ),
        (C::ClientInfo, _) => d(current, caller, false, Some(S::ClientInfoUpdate), false),
    };
    if want.updated_caller_step == Some(want.next_step) {
        want.updated_caller_step = None;
    }
    want
}

#[test]
fn every_change_from_every_step_with_and_without_caller() {
    let mut cases = 0;
    let callers = std::iter::once(None).chain(Step::ALL.into_iter().map(Some));
    for caller in callers {
        for from in Step::ALL {
            for change in ChangeType::ALL {
                for hashes_match in [false, true] {
                    let e = event_at(from, caller, hashes_match);
                    let got = route(&e, change, from);
                    let want = expected(change, from, caller, hashes_match, from);
                    assert_eq!(
                        got, want,
                        "change={change:?} from={from:?} caller={caller:?} match={hashes_match}"
                    );
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 8 * 7 * 8 * 2);
}

#[test]
fn date_change_after_offer_records_caller() {
    let e = event_at(Step::Negotiation, None, true);
    let d = route(&e, ChangeType::Date, Step::Negotiation);
    assert_eq!(d.next_step, Step::DateConfirmation);
    assert_eq!(d.updated_caller_step, Some(Step::Negotiation));
    assert!(d.maybe_run_step3);
}

#[test]
fn nested_detour_keeps_the_first_caller() {
    let mut e = event_at(Step::Negotiation, None, false);
    let first = route(&e, ChangeType::Date, Step::Negotiation);
    apply_route(&mut e, ChangeType::Date, &first, NOW, Actor::Client);
    assert_eq!(e.caller_step, Some(Step::Negotiation));
    let nested = route(&e, ChangeType::Room, e.current_step);
    assert_eq!(nested.updated_caller_step, Some(Step::Negotiation));
}

#[test]
fn requirements_fast_skip_returns_and_clears() {
    let mut e = event_at(Step::RoomAvailability, Some(Step::Negotiation), true);
    let d = route(&e, ChangeType::Requirements, Step::Negotiation);
    assert_eq!(d.skip_reason, Some(SkipReason::RequirementsHashMatch));
    let audit = apply_route(&mut e, ChangeType::Requirements, &d, NOW, Actor::Client);
    assert_eq!(e.current_step, Step::Negotiation);
    assert_eq!(e.caller_step, None);
    assert_eq!(audit.reason, "return_to_caller");
}

#[test]
fn no_room_evaluation_yet_is_a_mismatch() {
    let mut e = event_at(Step::DateConfirmation, None, true);
    e.room_eval_hash = None;
    let d = route(&e, ChangeType::Requirements, Step::DateConfirmation);
    assert_eq!(d.next_step, Step::RoomAvailability);
    assert!(d.needs_reeval);
}

#[test]
fn skip_step3_only_with_a_locked_room_still_free() {
    let free = |_: &RoomId, _: Date| true;
    let taken = |_: &RoomId, _: Date| false;
    let mut e = event_at(Step::Negotiation, None, true);
    let new_date = date(2026, 6, 12);
    assert!(should_skip_step3_after_date_change(&e, new_date, &free));
    assert!(!should_skip_step3_after_date_change(&e, new_date, &taken));
    e.locked_room_id = None;
    assert!(!should_skip_step3_after_date_change(&e, new_date, &free));
}

#[test]
fn date_detour_returns_directly_when_room_still_free() {
    let free = |_: &RoomId, _: Date| true;
    let mut e = event_at(Step::Negotiation, None, true);
    let d = route(&e, ChangeType::Date, Step::Negotiation);
    apply_route(&mut e, ChangeType::Date, &d, NOW, Actor::Client);
    e.chosen_date = Some(date(2026, 6, 12));
    let audit = resolve_date_confirmation(&mut e, &free, NOW, Actor::System);
    assert_eq!(e.current_step, Step::Negotiation);
    assert_eq!(e.caller_step, None);
    assert_eq!(audit.reason, "return_to_caller");
    assert_eq!(audit.fields["step3_skipped"], true);
}

#[test]
fn date_detour_runs_step3_when_room_taken_then_returns() {
    let taken = |_: &RoomId, _: Date| false;
    let mut e = event_at(Step::Negotiation, None, true);
    let d = route(&e, ChangeType::Date, Step::Negotiation);
    apply_route(&mut e, ChangeType::Date, &d, NOW, Actor::Client);
    e.chosen_date = Some(date(2026, 6, 12));
    resolve_date_confirmation(&mut e, &taken, NOW, Actor::System);
    assert_eq!(e.current_step, Step::RoomAvailability);
    assert_eq!(e.caller_step, Some(Step::Negotiation));
    let audit = resolve_step(&mut e, Step::Offer, NOW, Actor::Manager);
    assert_eq!(e.current_step, Step::Negotiation);
    assert_eq!(e.caller_step, None);
    assert_eq!(audit.reason, "return_to_caller");
}

fn any_step() -> impl Strategy<Value = Step> {
    (1u8..=7).prop_map(|n| Step::try_from(n).unwrap())
}

fn any_change() -> impl Strategy<Value = ChangeType> {
    (0usize..8).prop_map(|i| ChangeType::ALL[i])
}

/// What happens next to a booking in a random history: a client change or an owner step resolving.
#[derive(Debug, Clone)]
enum Move {
    Change(ChangeType),
    Resolve { room_still_free: bool },
}

fn any_move() -> impl Strategy<Value = Move> {
    prop_oneof![
        any_change().prop_map(Move::Change),
        any::<bool>().prop_map(|room_still_free| Move::Resolve { room_still_free }),
    ]
}

fn resolve_current(e: &mut Event, room_still_free: bool) -> AuditEntry {
    let avail = move |_: &RoomId, _: Date| room_still_free;
    if e.current_step == Step::DateConfirmation {
        e.chosen_date = Some(date(2027, 1, 15));
        resolve_date_confirmation(e, &avail, NOW, Actor::System)
    } else {
        if e.current_step == Step::RoomAvailability {
            e.room_eval_hash = Some(e.requirements_hash().to_owned());
        }
        let next = Step::try_from(e.current_step.number().min(6) + 1).unwrap();
        resolve_step(e, next, NOW, Actor::System)
    }
}

proptest! {
    #[test]
    fn a_caller_is_never_lost_by_routing(step in any_step(), caller in any_step(), change in any_change(), m in any::<bool>()) {
        let e = event_at(step, Some(caller), m);
        let d = route(&e, change, step);
        // Either the caller survives, or the decision goes straight back to it.
        prop_assert!(d.updated_caller_step == Some(caller) || d.next_step == caller);
    }

    #[test]
    fn a_caller_is_never_the_step_routed_to_from_itself(step in any_step(), change in any_change(), m in any::<bool>()) {
        let e = event_at(step, None, m);
        let d = route(&e, change, step);
        if d.next_step == step {
            prop_assert_eq!(d.updated_caller_step, None);
        }
    }

    #[test]
    fn a_detour_always_returns(start in 4u8..=7, change in any_change(), m in any::<bool>(), frees in proptest::collection::vec(any::<bool>(), 8)) {
        let start = Step::try_from(start).unwrap();
        let mut e = event_at(start, None, m);
        let d = route(&e, change, start);
        apply_route(&mut e, change, &d, NOW, Actor::Client);
        if let Some(caller) = e.caller_step {
            let mut back = false;
            for free in frees {
                let audit = resolve_current(&mut e, free);
                if audit.reason == "return_to_caller" {
                    prop_assert_eq!(e.current_step, caller);
                    back = true;
                    break;
                }
            }
            prop_assert!(back, "never returned to {:?}", caller);
            prop_assert_eq!(e.caller_step, None);
        }
    }

    #[test]
    fn random_histories_keep_invariants(start in any_step(), moves in proptest::collection::vec(any_move(), 0..30)) {
        let mut e = event_at(start, None, false);
        for mv in moves {
            let before = e.caller_step;
            match mv {
                Move::Change(c) => {
                    let d = route(&e, c, e.current_step);
                    let audit = apply_route(&mut e, c, &d, NOW, Actor::Client);
                    prop_assert!(audit.to_step == Some(e.current_step));
                    if let Some(b) = before {
                        prop_assert!(e.caller_step == Some(b) || (e.caller_step.is_none() && e.current_step == b));
                    }
                }
                Move::Resolve { room_still_free } => {
                    let audit = resolve_current(&mut e, room_still_free);
                    if audit.reason == "return_to_caller" {
                        prop_assert_eq!(Some(e.current_step), before);
                    }
                }
            }
            prop_assert!(e.caller_step != Some(e.current_step) || e.caller_step.is_none());
            prop_assert!(e.hashes_consistent());
        }
    }
}
