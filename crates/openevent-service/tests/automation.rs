//! The automation engine wired to the booking workflow, with the injected clock: lifecycle
//! triggers schedule jobs in the booking's transaction, the dispatcher sends them once at the
//! right local time, and replies, payments and cancellations stop what no longer applies.

use jiff::{SignedDuration, Timestamp};
use openevent_automation::ids::WorkflowKey;
use openevent_automation::job::JobStatus;
use openevent_automation::library;
use openevent_automation::retry::RetryPolicy;
use openevent_channels::{DeliveryResult, DynChannel, RecordingChannel};
use openevent_core::event::Status;
use openevent_core::ids::{EventId, OrgSlug};
use openevent_core::venue::Venue;
use openevent_service::scenario::Scenario;
use openevent_service::{Channels, Clock, Engine, EngineConfig, ManualClock};
use openevent_store::testing::TestDb;
use openevent_store::{SqlStore, Store};

type TestEngine = Engine<SqlStore, ManualClock>;

openevent_store::backend_tests!(
    the_offer_follow_up_goes_out_once_three_days_later_and_a_reply_stops_the_rest,
    a_whole_lifecycle_deposit_reminder_head_count_and_thank_you_at_local_times,
    a_cancelled_booking_sends_nothing_more,
    a_crash_between_sending_and_recording_resends_under_the_same_delivery_key,
    moving_the_event_rearms_its_reminder_for_the_new_date,
    clearing_the_workflow_stops_at_once_and_a_disabled_workflow_sends_nothing,
    a_client_who_gave_a_phone_number_gets_the_sms_reminder_on_the_due_date,
    offers_state_the_assigned_workflows_quote_terms,
    a_slow_channel_cannot_make_a_batch_outlive_its_lease,
);

/// A local Zurich wall time as an instant.
fn zurich(local: &str) -> Timestamp {
    local
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Zurich").unwrap())
        .unwrap()
        .timestamp()
}

async fn engine(db: &TestDb, deposit: bool, now: Timestamp) -> TestEngine {
    let store = db.open().await;
    let mut spec = Venue::atelier().spec().clone();
    spec.deposit.enabled = deposit;
    let config = EngineConfig {
        venue: Venue::from_spec(spec).unwrap(),
        ..EngineConfig::default()
    };
    Engine::new(store, ManualClock::new(now), config)
}

/// Installs library workflows; `assigned` becomes the organization's default workflow.
async fn install(engine: &TestEngine, org: &OrgSlug, keys: &[&str], assigned: Option<&str>) {
    let now = engine.clock().now();
    for key in keys {
        let wf = library::get(key).unwrap();
        engine.store().save_workflow(org, &wf, now).await.unwrap();
    }
    let mut settings = openevent_service::automation::default_settings(engine.venue());
    settings.default_workflow = assigned.map(|k| WorkflowKey::parse(k).unwrap());
    engine
        .store()
        .save_automation_settings(org, &settings, now)
        .await
        .unwrap();
}

async fn run(engine: &TestEngine, org: &OrgSlug, toml: &str) {
    let scenario = Scenario::from_toml(toml).unwrap();
    let run = engine
        .run_scenario(org, &scenario, engine.clock(), 1)
        .await
        .unwrap();
    assert!(
        run.mismatches.is_empty(),
        "{:#?}\n{}",
        run.mismatches,
        run.timeline
    );
}

async fn only_event(engine: &TestEngine, org: &OrgSlug) -> EventId {
    let events = engine
        .store()
        .list_events(
            org,
            openevent_store::EventFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    events[0].event_id.clone()
}

async fn jobs(
    engine: &TestEngine,
    org: &OrgSlug,
    event: &EventId,
) -> Vec<(String, JobStatus, Timestamp)> {
    engine
        .store()
        .booking_automation(org, event)
        .await
        .unwrap()
        .jobs
        .into_iter()
        .map(|j| (format!("{}/{}", j.workflow, j.step), j.status(), j.due_at))
        .collect()
}

fn status_of(jobs: &[(String, JobStatus, Timestamp)], step: &str) -> JobStatus {
    jobs.iter()
        .find(|(s, ..)| s == step)
        .unwrap_or_else(|| panic!("no job {step} in {jobs:?}"))
        .1
}

async fn dispatch(
    engine: &TestEngine,
    email: &RecordingChannel,
) -> openevent_service::DispatchReport {
    let channels = Channels {
        email: Some(email as &dyn DynChannel),
        ..Channels::default()
    };
    engine
        .run_due(&channels, &Default::default(), 100)
        .await
        .unwrap()
}

async fn audit_reasons(engine: &TestEngine, org: &OrgSlug, event: &EventId) -> Vec<String> {
    engine
        .store()
        .event_audit(org, event)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.reason)
        .collect()
}

/// A client message answering the booking's latest message.
async fn reply(engine: &TestEngine, org: &OrgSlug, event: &EventId, from: &str, body: &str) {
    let thread = engine.store().thread_message_ids(org, event).await.unwrap();
    let parent = thread.last().unwrap();
    let id = format!("r{}@client.example", thread.len());
    let raw = format!(
        "From: {from}\r\nSubject: Re: booking\r\nMessage-ID: <{id}>\r\nIn-Reply-To: <{parent}>\r\n\r\n{body}"
    );
    let report = engine.ingest_raw(org, raw.as_bytes()).await.unwrap();
    assert_eq!(report.result.event_id.as_ref(), Some(event));
}

/// Approves the booking's pending task of `kind`.
async fn approve(engine: &TestEngine, org: &OrgSlug, event: &EventId, kind: &str) {
    let tasks = engine
        .store()
        .list_tasks(
            org,
            openevent_store::TaskFilter {
                status: Some(openevent_core::effects::TaskStatus::Pending),
                event_id: Some(event),
                limit: 50,
            },
        )
        .await
        .unwrap();
    let task = tasks
        .iter()
        .find(|t| t.task.task_type.as_str() == kind)
        .unwrap_or_else(|| panic!("no pending {kind} task"));
    engine
        .decide_task(
            org,
            &task.task.task_id,
            openevent_core::workflow::Decision::Approve {
                edited_body: None,
                notes: None,
            },
        )
        .await
        .unwrap();
}

const OFFER_SENT: &str = r#"
title = "Offer sent"
client = "Max Huber <max@huber.example>"

[[step]]
kind = "client"
subject = "Wedding reception"
body = "Hello, please book Room C on 14.08.2027 from 16:00 to 23:00 for 60 guests. Max Huber"
expect = { action = "offer_draft_prepared" }

[[step]]
kind = "approve"
task = "client_reply"
"#;

async fn the_offer_follow_up_goes_out_once_three_days_later_and_a_reply_stops_the_rest(db: TestDb) {
    // Monday 4 January 2027, 10:00 in Zurich.
    let engine = engine(&db, false, zurich("2027-01-04T10:00")).await;
    let org = OrgSlug::parse("default").unwrap();
    install(&engine, &org, &["offer-follow-up"], Some("offer-follow-up")).await;
    run(&engine, &org, OFFER_SENT).await;
    let event = only_event(&engine, &org).await;
    let scheduled = jobs(&engine, &org, &event).await;
    assert_eq!(scheduled.len(), 2, "{scheduled:?}");
    let email_step = "offer-follow-up/no-reply-3-days";
    let (_, status, due) = scheduled.iter().find(|(s, ..)| s == email_step).unwrap();
    assert_eq!(
        (*status, *due),
        (JobStatus::Scheduled, zurich("2027-01-07T09:00"))
    );
    assert!(
        audit_reasons(&engine, &org, &event)
            .await
            .contains(&"automation_scheduled".into())
    );

    // The approved offer goes out now; the follow-up is not due yet.
    let email = RecordingChannel::new();
    assert_eq!(dispatch(&engine, &email).await.executed, 1);
    assert_eq!(email.attempts().len(), 1);
    let email = RecordingChannel::new();
    engine.clock().set(zurich("2027-01-07T08:59"));
    assert_eq!(dispatch(&engine, &email).await.executed, 0);
    engine.clock().set(zurich("2027-01-07T09:00"));
    let report = dispatch(&engine, &email).await;
    assert_eq!(report.executed, 1, "{report:?}");
    let sent = email.attempts();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].to,
        openevent_channels::Address::Email("max@huber.example".into())
    );
    assert_eq!(
        sent[0].subject.as_deref(),
        Some("Your offer from The Atelier")
    );
    assert!(sent[0].text.contains("Dear Max Huber"), "{}", sent[0].text);
    assert!(sent[0].text.contains("14.08.2027"), "{}", sent[0].text);
    // Again: nothing is sent twice.
    engine.clock().advance(SignedDuration::from_hours(1));
    assert_eq!(dispatch(&engine, &email).await.executed, 0);
    assert_eq!(email.attempts().len(), 1);
    assert_eq!(
        status_of(&jobs(&engine, &org, &event).await, email_step),
        JobStatus::Sent
    );
    // Each attempt is measured for the operator's metrics.
    let measured = &engine.metrics().deliveries()["email"];
    assert_eq!((measured.count, measured.sent), (2, 2), "{measured:?}");
    let rejected = engine.ingest_raw(&org, b"not an email").await;
    assert!(rejected.is_err());
    assert_eq!(engine.metrics().ingest_errors()["rejected"], 1);

    // The client answers: the manager's call-back task is no longer needed.
    reply(
        &engine,
        &org,
        &event,
        "Max Huber <max@huber.example>",
        "Thanks, could you tell me whether parking is available?",
    )
    .await;
    let after = jobs(&engine, &org, &event).await;
    assert_eq!(
        status_of(&after, "offer-follow-up/call-the-client"),
        JobStatus::Cancelled
    );
    engine.clock().advance(SignedDuration::from_hours(24 * 10));
    let report = dispatch(&engine, &email).await;
    assert_eq!((report.executed, report.failed, report.dead), (0, 0, 0));
    let reasons = audit_reasons(&engine, &org, &event).await;
    assert!(reasons.contains(&"automation_sent".into()), "{reasons:?}");
    assert!(
        reasons.contains(&"automation_cancelled".into()),
        "{reasons:?}"
    );
}

const CONFIRMED_WITH_DEPOSIT: &str = r#"
title = "Deposit, then confirmed"
client = "Kurt Zeller <kurt@zeller.example>"

[[step]]
kind = "client"
subject = "Jubilee"
body = "Hello, please book Room C on 12.10.2027 from 18:00 to 23:00 for 70 people. Kurt Zeller"
expect = { action = "offer_draft_prepared" }

[[step]]
kind = "approve"
task = "client_reply"

[[step]]
kind = "client"
subject = "Re: Jubilee"
body = "We accept. Billing address: Zeller AG, Hauptstrasse 5, 8400 Winterthur, Switzerland"
expect = { action = "offer_accept_pending_hil" }

[[step]]
kind = "approve"
task = "offer_acceptance"
expect = { action = "confirmation_deposit_requested", status = "option" }

[[step]]
kind = "approve"
task = "client_reply"
"#;

async fn a_whole_lifecycle_deposit_reminder_head_count_and_thank_you_at_local_times(db: TestDb) {
    let engine = engine(&db, true, zurich("2027-09-01T10:00")).await;
    let org = OrgSlug::parse("default").unwrap();
    install(
        &engine,
        &org,
        &[
            "deposit-reminder",
            "final-head-count",
            "post-event-thank-you",
        ],
        None,
    )
    .await;
    run(&engine, &org, CONFIRMED_WITH_DEPOSIT).await;
    let event = only_event(&engine, &org).await;
    let j = jobs(&engine, &org, &event).await;
    assert_eq!(
        status_of(&j, "deposit-reminder/three-days-before"),
        JobStatus::Scheduled
    );
    // The client left no phone number: the SMS step is reported, not silently dropped.
    let reasons = audit_reasons(&engine, &org, &event).await;
    assert!(
        reasons.contains(&"automation_not_scheduled".into()),
        "{reasons:?}"
    );

    engine.deposit_paid(&org, &event, "pay-1").await.unwrap();
    approve(&engine, &org, &event, "booking_confirmation").await;
    let j = jobs(&engine, &org, &event).await;
    assert_eq!(
        status_of(&j, "deposit-reminder/three-days-before"),
        JobStatus::Cancelled,
        "paid: the reminder stops"
    );
    // Five business days before Tuesday 12.10.2027 is Tuesday 05.10.2027, 09:00 in Zurich.
    let (_, status, due) = j
        .iter()
        .find(|(s, ..)| s == "final-head-count/ask-head-count")
        .unwrap();
    assert_eq!(
        (*status, *due),
        (JobStatus::Scheduled, zurich("2027-10-05T09:00"))
    );

    // The workflow's own replies go out first.
    assert!(dispatch(&engine, &RecordingChannel::new()).await.executed > 0);
    let email = RecordingChannel::new();
    engine.clock().set(zurich("2027-10-05T09:00"));
    assert_eq!(dispatch(&engine, &email).await.executed, 1);
    assert!(
        email.attempts()[0]
            .subject
            .as_deref()
            .unwrap()
            .contains("12.10.2027")
    );

    // The event ends at 23:00 on 12.10. (21:00 UTC); the thank-you goes out the next day at 10:00.
    engine.clock().set(zurich("2027-10-13T08:00"));
    let report = dispatch(&engine, &email).await;
    assert_eq!(report.executed, 0, "{report:?}");
    let j = jobs(&engine, &org, &event).await;
    let (_, status, due) = j
        .iter()
        .find(|(s, ..)| s == "post-event-thank-you/thank-you-survey")
        .unwrap();
    assert_eq!(
        (*status, *due),
        (JobStatus::Scheduled, zurich("2027-10-13T10:00"))
    );
    engine.clock().set(zurich("2027-10-13T10:00"));
    assert_eq!(dispatch(&engine, &email).await.executed, 1);
    assert_eq!(email.attempts().len(), 2);
    // The completion fires once.
    engine.clock().advance(SignedDuration::from_hours(48));
    assert_eq!(dispatch(&engine, &email).await.executed, 0);
    assert_eq!(email.attempts().len(), 2);
}

async fn a_cancelled_booking_sends_nothing_more(db: TestDb) {
    let engine = engine(&db, true, zurich("2027-09-01T10:00")).await;
    let org = OrgSlug::parse("default").unwrap();
    install(&engine, &org, &["deposit-reminder"], None).await;
    run(&engine, &org, CONFIRMED_WITH_DEPOSIT).await;
    let event = only_event(&engine, &org).await;
    assert_eq!(
        status_of(
            &jobs(&engine, &org, &event).await,
            "deposit-reminder/three-days-before"
        ),
        JobStatus::Scheduled
    );
    reply(
        &engine,
        &org,
        &event,
        "Kurt Zeller <kurt@zeller.example>",
        "Unfortunately we have to cancel the booking.",
    )
    .await;
    approve(&engine, &org, &event, "cancellation").await;
    assert!(dispatch(&engine, &RecordingChannel::new()).await.executed > 0);
    let j = jobs(&engine, &org, &event).await;
    assert!(
        j.iter().all(|(_, s, _)| *s != JobStatus::Scheduled),
        "no job left to send: {j:?}"
    );
    let email = RecordingChannel::new();
    engine.clock().advance(SignedDuration::from_hours(24 * 60));
    assert_eq!(dispatch(&engine, &email).await.executed, 0);
    assert!(email.attempts().is_empty());
    let view = engine.event_view(&org, &event).await.unwrap().unwrap();
    assert_eq!(view.event.status, Status::Cancelled);
}

async fn a_crash_between_sending_and_recording_resends_under_the_same_delivery_key(db: TestDb) {
    let engine = engine(&db, false, zurich("2027-01-04T10:00")).await;
    let org = OrgSlug::parse("default").unwrap();
    install(&engine, &org, &["offer-follow-up"], Some("offer-follow-up")).await;
    run(&engine, &org, OFFER_SENT).await;
    let event = only_event(&engine, &org).await;
    assert_eq!(
        dispatch(&engine, &RecordingChannel::new()).await.executed,
        1
    );
    engine.clock().set(zurich("2027-01-07T09:00"));
    // A dispatcher claims the job, the provider accepts it, and the process dies before it
    // records the outcome.
    let now = engine.clock().now();
    let claimed = engine
        .store()
        .claim_due(now, now + SignedDuration::from_secs(300), 10, &["email"])
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let key = claimed[0].delivery_key.clone();
    // The lease runs out; another dispatcher takes the job over and sends it again with the same
    // key, which the provider uses to drop the duplicate.
    engine.clock().advance(SignedDuration::from_secs(301));
    let email = RecordingChannel::new().then(DeliveryResult::Sent { provider_id: None });
    assert_eq!(dispatch(&engine, &email).await.executed, 1);
    assert_eq!(email.attempts()[0].delivery_key, key);
    // The first attempt's late outcome cannot overwrite the second's.
    let late = engine
        .store()
        .finish_job(
            &claimed[0],
            &openevent_store::JobResult::Sent,
            None,
            None,
            now,
        )
        .await;
    assert!(matches!(
        late,
        Err(openevent_store::StoreError::LeaseLost(_))
    ));
    assert_eq!(
        status_of(
            &jobs(&engine, &org, &event).await,
            "offer-follow-up/no-reply-3-days"
        ),
        JobStatus::Sent
    );
}

async fn moving_the_event_rearms_its_reminder_for_the_new_date(db: TestDb) {
    let engine = engine(&db, true, zurich("2027-09-01T10:00")).await;
    let org = OrgSlug::parse("default").unwrap();
    install(&engine, &org, &["final-head-count"], None).await;
    run(&engine, &org, CONFIRMED_WITH_DEPOSIT).await;
    let event = only_event(&engine, &org).await;
    engine.deposit_paid(&org, &event, "pay-1").await.unwrap();
    approve(&engine, &org, &event, "booking_confirmation").await;
    let step = "final-head-count/ask-head-count";
    let before = jobs(&engine, &org, &event).await;
    assert_eq!(
        before.iter().find(|(s, ..)| s == step).unwrap().2,
        zurich("2027-10-05T09:00")
    );
    reply(
        &engine,
        &org,
        &event,
        "Kurt Zeller <kurt@zeller.example>",
        "Could we move the event to 19.10.2027, same time?",
    )
    .await;
    let view = engine.event_view(&org, &event).await.unwrap().unwrap();
    let after = jobs(&engine, &org, &event).await;
    assert_eq!(
        view.event.chosen_date,
        Some(jiff::civil::date(2027, 10, 19))
    );
    let (_, status, due) = after.iter().find(|(s, ..)| s == step).unwrap();
    assert_eq!(
        (*status, *due),
        (JobStatus::Scheduled, zurich("2027-10-12T09:00")),
        "{after:?}"
    );
    let reasons = audit_reasons(&engine, &org, &event).await;
    assert!(
        reasons.contains(&"automation_rearmed".into()),
        "{reasons:?}"
    );
}

async fn clearing_the_workflow_stops_at_once_and_a_disabled_workflow_sends_nothing(db: TestDb) {
    let engine = engine(&db, false, zurich("2027-01-04T10:00")).await;
    let org = OrgSlug::parse("default").unwrap();
    install(&engine, &org, &["offer-follow-up"], Some("offer-follow-up")).await;
    run(&engine, &org, OFFER_SENT).await;
    let event = only_event(&engine, &org).await;
    engine
        .set_workflow_override(
            &org,
            &event,
            Some(&openevent_automation::assignment::Override::Clear),
        )
        .await
        .unwrap();
    let j = jobs(&engine, &org, &event).await;
    assert!(
        j.iter().all(|(_, s, _)| *s == JobStatus::Cancelled),
        "{j:?}"
    );

    // A second booking keeps its follow-up until the workflow is disabled; then the dispatcher
    // cancels instead of sending.
    engine
        .set_workflow_override(&org, &event, None)
        .await
        .unwrap();
    let mut wf = library::get("offer-follow-up").unwrap().into_spec();
    wf.enabled = false;
    let disabled = openevent_automation::Workflow::new(wf).unwrap();
    let db2 = TestDb::of(db.backend()).unwrap();
    let engine2 = self::engine(&db2, false, zurich("2027-01-04T10:00")).await;
    install(
        &engine2,
        &org,
        &["offer-follow-up"],
        Some("offer-follow-up"),
    )
    .await;
    run(&engine2, &org, OFFER_SENT).await;
    let event2 = only_event(&engine2, &org).await;
    assert_eq!(
        dispatch(&engine2, &RecordingChannel::new()).await.executed,
        1
    );
    engine2
        .store()
        .save_workflow(&org, &disabled, engine2.clock().now())
        .await
        .unwrap();
    engine2.clock().set(zurich("2027-01-07T09:00"));
    let email = RecordingChannel::new();
    let report = dispatch(&engine2, &email).await;
    assert_eq!(report.executed, 0, "{report:?}");
    assert!(email.attempts().is_empty());
    assert_eq!(
        status_of(
            &jobs(&engine2, &org, &event2).await,
            "offer-follow-up/no-reply-3-days"
        ),
        JobStatus::Cancelled
    );
}

async fn a_client_who_gave_a_phone_number_gets_the_sms_reminder_on_the_due_date(db: TestDb) {
    let engine = engine(&db, true, zurich("2027-09-01T10:00")).await;
    let org = OrgSlug::parse("default").unwrap();
    install(&engine, &org, &["deposit-reminder"], None).await;
    run(
        &engine,
        &org,
        &CONFIRMED_WITH_DEPOSIT.replace(
            "for 70 people. Kurt Zeller",
            "for 70 people. Kurt Zeller, Tel. 079 123 45 67",
        ),
    )
    .await;
    let event = only_event(&engine, &org).await;
    let booking = engine
        .store()
        .booking_automation(&org, &event)
        .await
        .unwrap();
    let sms = booking
        .jobs
        .iter()
        .find(|j| j.step.as_str() == "due-today-sms")
        .unwrap_or_else(|| {
            panic!(
                "no SMS job: {:?}; profile {:?}",
                booking
                    .jobs
                    .iter()
                    .map(|j| j.step.as_str())
                    .collect::<Vec<_>>(),
                booking.record.as_ref().map(|r| &r.snapshot.client)
            )
        });
    let due = sms.due_at;
    let texts = RecordingChannel::new();
    let emails = RecordingChannel::new();
    let channels = Channels {
        email: Some(&emails as &dyn DynChannel),
        sms: Some(&texts as &dyn DynChannel),
        ..Channels::default()
    };
    engine.clock().set(due);
    let report = engine
        .run_due(&channels, &Default::default(), 100)
        .await
        .unwrap();
    assert!(report.executed >= 1, "{report:?}");
    let sent = texts.attempts();
    assert_eq!(sent.len(), 1, "{sent:?}");
    match &sent[0].to {
        openevent_channels::Address::Phone(p) => assert_eq!(p.as_str(), "+41791234567"),
        other => panic!("sent to {other:?}"),
    }
    // Local time of the due date at 10:00, never inside the SMS quiet hours (21:00–08:00).
    let local = due.to_zoned(jiff::tz::TimeZone::get("Europe/Zurich").unwrap());
    assert_eq!((local.hour(), local.minute()), (10, 0));
}

async fn offers_state_the_assigned_workflows_quote_terms(db: TestDb) {
    let engine = engine(&db, false, zurich("2027-01-04T10:00")).await;
    let org = OrgSlug::parse("default").unwrap();
    let mut spec = library::get("offer-follow-up").unwrap().into_spec();
    spec.quote_terms.payment_days = Some(10);
    spec.quote_terms.validity_days = Some(5);
    let wf = openevent_automation::Workflow::new(spec).unwrap();
    engine
        .store()
        .save_workflow(&org, &wf, engine.clock().now())
        .await
        .unwrap();
    install(&engine, &org, &[], Some("offer-follow-up")).await;
    run(&engine, &org, OFFER_SENT).await;
    let event = only_event(&engine, &org).await;
    let view = engine.event_view(&org, &event).await.unwrap().unwrap();
    let offer = &view.event.offers[0];
    assert_eq!(offer.payment_days, 10);
    assert_eq!(offer.valid_until, jiff::civil::date(2027, 1, 9));
    // Without the workflow's terms, the venue's apply (30 days to pay, valid 14 days).
    let db2 = TestDb::of(db.backend()).unwrap();
    let plain = self::engine(&db2, false, zurich("2027-01-04T10:00")).await;
    run(&plain, &org, OFFER_SENT).await;
    let event = only_event(&plain, &org).await;
    let view = plain.event_view(&org, &event).await.unwrap().unwrap();
    assert_eq!(view.event.offers[0].payment_days, 30);
}

/// A channel that takes `per_send` of the (manual) clock for every message: a slow relay.
struct SlowChannel<'a> {
    clock: &'a ManualClock,
    per_send: SignedDuration,
    sent: std::sync::Mutex<Vec<String>>,
}

impl openevent_channels::Channel for SlowChannel<'_> {
    fn name(&self) -> &'static str {
        "slow"
    }

    async fn send(&self, msg: &openevent_channels::OutboundMessage) -> DeliveryResult {
        self.clock.advance(self.per_send);
        self.sent.lock().unwrap().push(msg.delivery_key.clone());
        DeliveryResult::Sent { provider_id: None }
    }
}

/// Five approved replies claimed as one batch, each send taking 100 s of a 300 s lease: the
/// dispatcher starts no send in the lease's second half, so the last jobs go back to the queue
/// (not counted as attempts) before anyone could take the batch over, and the next pass sends
/// them — each exactly once.
async fn a_slow_channel_cannot_make_a_batch_outlive_its_lease(db: TestDb) {
    let engine = engine(&db, false, zurich("2027-01-04T10:00")).await;
    let org = OrgSlug::parse("default").unwrap();
    for i in 0..5 {
        let raw = format!(
            "From: Client {i} <c{i}@client.example>\r\nSubject: Workshop\r\nMessage-ID: <lease-{i}@client.example>\r\n\r\n\
             Hello, we would like to book a room for a workshop with 20 people. Best regards"
        );
        let report = engine.ingest_raw(&org, raw.as_bytes()).await.unwrap();
        let event = report.result.event_id.clone().unwrap();
        let tasks = engine
            .store()
            .list_tasks(
                &org,
                openevent_store::TaskFilter {
                    status: Some(openevent_core::effects::TaskStatus::Pending),
                    event_id: Some(&event),
                    limit: 50,
                },
            )
            .await
            .unwrap();
        for task in tasks {
            engine
                .decide_task(
                    &org,
                    &task.task.task_id,
                    openevent_core::workflow::Decision::Approve {
                        edited_body: None,
                        notes: None,
                    },
                )
                .await
                .unwrap();
        }
    }
    let slow = SlowChannel {
        clock: engine.clock(),
        per_send: SignedDuration::from_secs(100),
        sent: std::sync::Mutex::default(),
    };
    let channels = Channels {
        email: Some(&slow as &dyn DynChannel),
        ..Channels::default()
    };
    let policy = RetryPolicy::default();
    assert_eq!(policy.lease_secs, 300);
    // Sends at 0 s and 100 s; at 200 s the lease is past its half: the other three wait.
    let first = engine.run_due(&channels, &policy, 100).await.unwrap();
    assert_eq!((first.executed, first.deferred), (2, 3), "{first:?}");
    let rows = engine
        .store()
        .list_outbox(&org, Some(JobStatus::Scheduled), 100)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.attempts == 0), "{rows:?}");
    // The next passes send the rest; nothing is sent twice.
    let mut executed = first.executed;
    while executed < 5 {
        executed += engine
            .run_due(&channels, &policy, 100)
            .await
            .unwrap()
            .executed;
    }
    let mut keys = slow.sent.lock().unwrap().clone();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 5);
    assert_eq!(slow.sent.lock().unwrap().len(), 5);
}
