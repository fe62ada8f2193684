//! Loads what a workflow turn may look at: the calendar around today, the booking's pending tasks
//! and thread, the client's name.

use jiff::Timestamp;
use jiff::ToSpan;
use jiff::civil::Date;
use openevent_core::calendar::Occupancy;
use openevent_core::effects::{HilTask, TaskStatus};
use openevent_core::event::Event;
use openevent_core::ids::{MessageId, OrgSlug};
use openevent_core::understanding::Understanding;
use openevent_core::workflow;
use openevent_store::{Store, StoreError, TaskFilter};

use crate::clock::Clock;
use crate::{Engine, EngineConfig};

/// How far ahead the calendar is loaded for date proposals and site-visit slots. Bounded so that
/// a turn reads the same amount of calendar however many bookings the database holds.
const CALENDAR_DAYS: i64 = 90;

pub(crate) struct TurnData {
    pub occupancy: Vec<Occupancy>,
    pub calendar_until: Date,
    pub calendar_days: Vec<Date>,
    pub pending: Vec<HilTask>,
    pub thread: Vec<MessageId>,
    pub client_name: Option<String>,
}

impl TurnData {
    /// The workflow's view of this data for one turn.
    pub fn ctx<'a>(
        &'a self,
        org: &'a OrgSlug,
        config: &'a EngineConfig,
        client_name: Option<&'a str>,
        now: Timestamp,
    ) -> workflow::Ctx<'a> {
        workflow::Ctx {
            org,
            venue: &config.venue,
            templates: &config.templates,
            client_name,
            occupancy: &self.occupancy,
            calendar_until: self.calendar_until,
            calendar_days: &self.calendar_days,
            pending_tasks: &self.pending,
            thread: &self.thread,
            now,
        }
    }
}

impl<S: Store, C: Clock> Engine<S, C> {
    pub(crate) async fn turn_data(
        &self,
        org: &OrgSlug,
        event: Option<&Event>,
        understanding: Option<&Understanding>,
        now: Timestamp,
    ) -> Result<TurnData, StoreError> {
        let today = now.to_zoned(self.config.venue.time_zone().clone()).date();
        let from = today.checked_sub(1.day()).unwrap_or(today);
        let until = today.checked_add(CALENDAR_DAYS.days()).unwrap_or(today);
        let mut occupancy = self
            .store
            .occupancy(org, from, until.checked_add(1.day()).unwrap_or(until))
            .await?;
        let calendar_days: Vec<Date> = workflow::calendar_days(today, event, understanding)
            .into_iter()
            .filter(|d| *d > until)
            .collect();
        // Consecutive days (a preferred month) are read as one range, each widened by a day on
        // both sides for overnight bookings and buffers.
        let mut ranges: Vec<(Date, Date)> = Vec::new();
        for d in &calendar_days {
            match ranges.last_mut() {
                Some((_, end)) if end.tomorrow().ok() == Some(*d) => *end = *d,
                _ => ranges.push((*d, *d)),
            }
        }
        for (start, end) in ranges {
            let around = self
                .store
                .occupancy(
                    org,
                    start.checked_sub(1.day()).unwrap_or(start),
                    end.checked_add(1.day()).unwrap_or(end),
                )
                .await?;
            for o in around {
                if !occupancy.contains(&o) {
                    occupancy.push(o);
                }
            }
        }
        let (pending, thread, client_name) = match event {
            None => (Vec::new(), Vec::new(), None),
            Some(e) => {
                let pending = self
                    .store
                    .list_tasks(
                        org,
                        TaskFilter {
                            status: Some(TaskStatus::Pending),
                            event_id: Some(&e.event_id),
                            limit: 1000,
                        },
                    )
                    .await?
                    .into_iter()
                    .map(|v| v.task)
                    .collect();
                let thread = self.store.thread_message_ids(org, &e.event_id).await?;
                let name = self
                    .store
                    .load_profile(org, &e.client_email)
                    .await?
                    .and_then(|p| p.name);
                (pending, thread, name)
            }
        };
        Ok(TurnData {
            occupancy,
            calendar_until: until,
            calendar_days,
            pending,
            thread,
            client_name,
        })
    }
}
