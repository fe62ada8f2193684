//! The ingest pipeline: parse → look up → decide (pure) → commit (one transaction).

use openevent_core::effects::TurnResult;
use openevent_core::ids::OrgSlug;
use openevent_core::intake::{self, IntakeInput};
use openevent_core::message::InboundMessage;
use openevent_core::workflow::WorkflowError;
use openevent_mail::{MailError, parse_message};
use openevent_nlu::strip_quoted;
use openevent_store::{EventWrite, IngestCommit, Store, StoreError};
use serde::Serialize;
use tracing::Instrument;

use crate::Engine;
use crate::clock::Clock;
use crate::understanding::{llm_audit, understand};

/// How often a turn is recomputed when its booking changed underneath it.
const MAX_CONFLICT_RETRIES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    #[error("gave up after {0} concurrent updates of the same booking")]
    TooMuchContention(usize),
}

/// What `ingest` reports: the turn result, and whether the message had been processed before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    #[serde(flatten)]
    pub result: TurnResult,
    pub duplicate: bool,
}

impl<S: Store, C: Clock> Engine<S, C> {
    /// Parses and processes one raw RFC 5322 message. Bad input fails before anything is read or
    /// written.
    pub async fn ingest_raw(&self, org: &OrgSlug, raw: &[u8]) -> Result<IngestReport, IngestError> {
        let message = parse_message(raw).inspect_err(|_| self.metrics.ingest_error("rejected"))?;
        self.ingest(org, &message, raw).await
    }

    /// The message as the core sees it: the client's new text, without the quoted history and
    /// signature (the raw message, stored as received, keeps everything).
    fn new_text_only(message: &InboundMessage) -> InboundMessage {
        InboundMessage {
            body_text: strip_quoted(&message.body_text),
            ..message.clone()
        }
    }

    /// Processes one parsed message. Idempotent on the Message-ID per organization; a concurrent
    /// change to the same booking makes the turn re-run on the fresh record.
    pub async fn ingest(
        &self,
        org: &OrgSlug,
        message: &InboundMessage,
        raw: &[u8],
    ) -> Result<IngestReport, IngestError> {
        // One span per message: every log line of its processing carries the organization and
        // the Message-ID, and the booking once known.
        let span = tracing::info_span!(
            "message",
            org = %org,
            message_id = %message.message_id,
            event_id = tracing::field::Empty
        );
        let outcome = self
            .ingest_in_span(org, message, raw)
            .instrument(span)
            .await;
        if let Err(e) = &outcome {
            self.metrics.ingest_error(match e {
                IngestError::Mail(_) => "rejected",
                IngestError::Store(_) => "storage",
                IngestError::Workflow(_) => "workflow",
                IngestError::TooMuchContention(_) => "contention",
            });
        }
        outcome
    }

    async fn ingest_in_span(
        &self,
        org: &OrgSlug,
        message: &InboundMessage,
        raw: &[u8],
    ) -> Result<IngestReport, IngestError> {
        let message = &Self::new_text_only(message);
        for _ in 0..MAX_CONFLICT_RETRIES {
            let lookup = self
                .store
                .inbound_lookup(
                    org,
                    &message.message_id,
                    &message.from,
                    &message.thread_parents(),
                )
                .await?;
            if let Some(result) = lookup.previous {
                return Ok(IngestReport {
                    result,
                    duplicate: true,
                });
            }
            let (profile, thread) = (lookup.profile, lookup.thread);
            let venue = self.venue_at(org, lookup.venue_revision).await?;
            let now = self.clock.now();
            let (mut understanding, mut change) = understand(
                &venue.venue,
                &venue.lexicon,
                message,
                thread.as_ref().map(|s| &s.event),
                now,
            );
            let mut llm_note = None;
            if let Some(llm) = &self.llm {
                let refined = llm
                    .refine(&message.subject, &message.body_text, &understanding)
                    .await;
                llm_note = Some(llm_audit(&refined.llm, now));
                if !refined.llm.is_fallback() {
                    understanding = refined.understanding;
                    change = thread.as_ref().and_then(|s| {
                        openevent_nlu::detect_change_type(
                            &s.event,
                            &understanding,
                            &message.body_text,
                        )
                    });
                }
            }
            let data = self
                .turn_data(
                    org,
                    std::sync::Arc::clone(&venue),
                    thread.as_ref().map(|s| &s.event),
                    Some(&understanding),
                    now,
                )
                .await?;
            let name = data
                .client_name
                .clone()
                .or_else(|| profile.as_ref().and_then(|p| p.name.clone()))
                .or_else(|| message.from_name.clone());
            let ctx = data.ctx(org, &self.config, name.as_deref(), now);
            let mut outcome = intake::decide(IntakeInput {
                org,
                message,
                understanding: &understanding,
                profile: profile.as_ref(),
                thread_event: thread.as_ref().map(|s| &s.event),
                workflow: &ctx,
                change,
                now,
            })?;
            let calendar_seen = data.calendar_seen(outcome.event.as_ref());
            let automation = outcome.event.as_ref().and_then(|after| {
                data.automation_changes(&crate::automation::Write {
                    org,
                    venue: &venue.venue,
                    before: thread
                        .as_ref()
                        .filter(|_| !outcome.event_is_new)
                        .map(|s| &s.event),
                    after,
                    client_name: name.as_deref(),
                    client_phone: outcome.profile.phone.as_deref(),
                    event_type: understanding.entities.event_type.as_deref(),
                    cause: openevent_automation::lifecycle::Cause::ClientMessage,
                    now,
                })
            });
            let automation = automation.map(|(changes, audit)| {
                outcome.audit.extend(audit);
                changes
            });
            // The turn's calendar is shared with the store's cache: released before the commit
            // updates the cache, so that it is not copied.
            drop(data);
            if let (Some(note), Some(_)) = (llm_note, &outcome.result.event_id) {
                outcome.audit.push(note);
            }
            let event_write = outcome.event.as_ref().map(|event| match &thread {
                Some(stored) if !outcome.event_is_new => EventWrite::Update {
                    event,
                    expected_version: stored.version,
                },
                _ => EventWrite::Insert(event),
            });
            let commit = IngestCommit {
                org,
                message,
                raw,
                received_at: now,
                profile: &outcome.profile,
                profile_changed: outcome.profile_changed,
                history: &outcome.history,
                event: event_write,
                audit: &outcome.audit,
                drafts: &outcome.drafts,
                tasks: &outcome.tasks,
                superseded: &outcome.superseded,
                outbox: &outcome.outbox,
                result: &outcome.result,
                calendar_seen: &calendar_seen,
                automation: automation.as_ref(),
            };
            match self.store.commit_ingest(commit).await {
                Ok(()) => {
                    if let Some(id) = &outcome.result.event_id {
                        tracing::Span::current().record("event_id", tracing::field::display(id));
                    }
                    *self
                        .processed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .entry(outcome.result.action.as_str())
                        .or_default() += 1;
                    // Organization, Message-ID and booking are on the span.
                    tracing::info!(action = outcome.result.action.as_str(), "message processed");
                    return Ok(IngestReport {
                        result: outcome.result,
                        duplicate: false,
                    });
                }
                // Another process stored it first: the next round returns its result.
                Err(StoreError::DuplicateMessage(_)) => continue,
                Err(StoreError::Conflict(id) | StoreError::CalendarChanged(id)) => {
                    tracing::debug!(event_id = %id, "booking changed concurrently; re-running the turn");
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(IngestError::TooMuchContention(MAX_CONFLICT_RETRIES))
    }
}
