//! Step 5, Negotiation: the client answers the offer.
//!
//! | client says                   | action                                              |
//! |-------------------------------|-----------------------------------------------------|
//! | accepts, billing incomplete   | `offer_accept_requires_billing`                     |
//! | accepts, billing complete     | `offer_accept_pending_hil` (one task, never two)    |
//! | declines                      | `negotiation_decline`: cancellation task            |
//! | counter-offer 1..=max         | `negotiation_counter`: offer re-drafted with a discount |
//! | counter-offer beyond max      | `negotiation_manual_review`: exactly one task       |
//! | a question                    | answered from the FAQ, or a task; step unchanged    |
//! | anything else                 | a manager looks at it                               |

use super::render::{self, greeting};
use super::{Flow, Turn, WorkflowError, faq, step4_offer};
use crate::effects::{Action, TaskPayload, TaskType};
use crate::event::OfferStatus;
use crate::understanding::{Intent, Understanding};

/// Discount for the booking's current number of counter-offers, capped by the venue's policy.
pub(crate) fn discount_bp(t: &Turn<'_, '_>) -> u32 {
    let p = &t.ctx.venue.spec().negotiation;
    let counted = t.event.negotiation.counter_count.min(p.max_counters);
    // Saturating: `discount_step_percent` is not bounded by the venue's validation.
    counted
        .saturating_mul(p.discount_step_percent)
        .min(p.max_discount_percent)
}

pub(crate) fn on_message(
    t: &mut Turn<'_, '_>,
    u: &Understanding,
    text: &str,
) -> Result<Flow, WorkflowError> {
    let s = &u.signals;
    if s.is_rejection || u.intent == Intent::DeclineOffer {
        return decline(t);
    }
    if u.intent == Intent::CounterOffer {
        return counter(t);
    }
    if s.is_acceptance || u.intent == Intent::AcceptOffer {
        return accept(t);
    }
    if s.is_question || u.intent == Intent::GeneralQna {
        return answer_question(t, text);
    }
    manual(
        t,
        format!(
            "Client wrote during negotiation (understood as {:?}).",
            u.intent
        ),
    );
    Ok(Flow::Stop)
}

pub(crate) fn manual(t: &mut Turn<'_, '_>, reason: String) {
    t.task(
        Action::ThreadReplyRecorded,
        TaskType::ManualReview,
        TaskPayload::None,
        reason,
    );
}

fn offer_vars(t: &Turn<'_, '_>) -> serde_json::Value {
    let offer = t.event.current_offer();
    let room = t
        .event
        .locked_room_id
        .as_ref()
        .and_then(|r| t.ctx.venue.room(r))
        .map(|r| r.name.clone());
    serde_json::json!({
        "greeting": greeting(t.event.language, t.ctx.client_name),
        "venue_name": t.ctx.venue.name(),
        "offer_id": offer.map(|o| o.offer_id.clone()),
        "total": offer.map(|o| render::chf(o.total)),
        "valid_until": offer.map(|o| render::date(o.valid_until)),
        "deposit": offer.and_then(|o| o.deposit).map(render::chf),
        "deposit_due": offer.and_then(|o| o.deposit_due).map(render::date),
        "date": t.event.chosen_date.map(render::date),
        "time_window": render::time_window(&t.event),
        "room_name": room,
        "participants": t.event.requirements().number_of_participants,
    })
}

pub(crate) fn render_with(
    t: &Turn<'_, '_>,
    topic: &str,
    extra: serde_json::Value,
) -> Result<String, WorkflowError> {
    let mut vars = offer_vars(t);
    if let (Some(base), Some(more)) = (vars.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            base.insert(k.clone(), v.clone());
        }
    }
    let body = t.ctx.templates.render(t.event.language, topic, &vars)?;
    Ok(format!("{body}\n\n{}", render::status_line(&t.event)))
}

fn accept(t: &mut Turn<'_, '_>) -> Result<Flow, WorkflowError> {
    let Some(offer_id) = t.event.current_offer().map(|o| o.offer_id.clone()) else {
        manual(
            t,
            "Client accepted, but the booking has no offer.".to_owned(),
        );
        return Ok(Flow::Stop);
    };
    let missing = t
        .event
        .billing_address
        .clone()
        .unwrap_or_default()
        .missing_fields();
    if !missing.is_empty() {
        let body = render_with(
            t,
            "offer_accept_requires_billing",
            serde_json::json!({ "missing": missing }),
        )?;
        t.draft(
            Action::OfferAcceptRequiresBilling,
            "offer_accept_requires_billing",
            body,
            TaskType::ClientReply,
            TaskPayload::None,
            format!(
                "Acceptance of {offer_id}: billing address incomplete ({}).",
                missing.join(", ")
            ),
        );
        return Ok(Flow::Stop);
    }
    if let Some(existing) = t
        .ctx
        .pending_tasks
        .iter()
        .find(|p| p.task_type == TaskType::OfferAcceptance)
    {
        // The manager already has this acceptance in front of them.
        t.existing_tasks.push(existing.task_id.clone());
        t.action = Some(Action::OfferAcceptPendingHil);
        return Ok(Flow::Stop);
    }
    let body = render_with(t, "offer_accepted", serde_json::json!({}))?;
    t.draft(
        Action::OfferAcceptPendingHil,
        "offer_accepted",
        body,
        TaskType::OfferAcceptance,
        TaskPayload::OfferAcceptance {
            offer_id: offer_id.clone(),
        },
        format!("Client accepted {offer_id}: approve the acceptance."),
    );
    Ok(Flow::Stop)
}

fn decline(t: &mut Turn<'_, '_>) -> Result<Flow, WorkflowError> {
    let body = render_with(t, "negotiation_decline", serde_json::json!({}))?;
    t.draft(
        Action::NegotiationDecline,
        "negotiation_decline",
        body,
        TaskType::Cancellation,
        TaskPayload::None,
        "Client declined the offer: approve to cancel the booking.".to_owned(),
    );
    Ok(Flow::Stop)
}

fn counter(t: &mut Turn<'_, '_>) -> Result<Flow, WorkflowError> {
    t.event.negotiation.counter_count += 1;
    let max = t.ctx.venue.spec().negotiation.max_counters;
    if t.event.negotiation.counter_count > max {
        let already =
            t.ctx.pending_tasks.iter().find(|p| {
                p.task_type == TaskType::ManualReview && p.reason.starts_with("Negotiation")
            });
        match already {
            Some(task) => {
                t.existing_tasks.push(task.task_id.clone());
                t.action = Some(Action::NegotiationManualReview);
            }
            None => t.task(
                Action::NegotiationManualReview,
                TaskType::ManualReview,
                TaskPayload::None,
                format!(
                    "Negotiation: counter-offer {} exceeds the {max} the workflow answers; please take over.",
                    t.event.negotiation.counter_count
                ),
            ),
        }
        return Ok(Flow::Stop);
    }
    step4_offer::draft_offer(t, Action::NegotiationCounter)?;
    Ok(Flow::Stop)
}

/// Answers from the venue FAQ, or hands the question to a manager; the step does not move.
pub(crate) fn answer_question(t: &mut Turn<'_, '_>, text: &str) -> Result<Flow, WorkflowError> {
    let answers = faq::answers(t.ctx.venue, text, t.event.language);
    if answers.is_empty() {
        t.task(
            Action::QuestionForManager,
            TaskType::ManualReview,
            TaskPayload::None,
            "Client question the FAQ cannot answer.".to_owned(),
        );
        return Ok(Flow::Stop);
    }
    let body = render_with(
        t,
        "question_answered",
        serde_json::json!({ "answers": answers }),
    )?;
    t.draft(
        Action::QuestionAnswered,
        "question_answered",
        body,
        TaskType::ClientReply,
        TaskPayload::None,
        "Question answered from the FAQ.".to_owned(),
    );
    Ok(Flow::Stop)
}

/// Whether the current offer no longer matches what the booking would cost now.
pub(crate) fn offer_is_stale(t: &Turn<'_, '_>) -> bool {
    let Some(current) = t.event.current_offer() else {
        return false;
    };
    if current.status == OfferStatus::Accepted {
        return false;
    }
    step4_offer::price(t).is_some_and(|fresh| fresh.content_hash() != current.content_hash())
}
