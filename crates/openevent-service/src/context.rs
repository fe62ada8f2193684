//! Loads what a workflow turn may look at: the calendar around today, the booking's pending tasks
//! and thread, the client's name.

use jiff::Timestamp;
use jiff::ToSpan;
use jiff::civil::Date;
use openevent_core::calendar::Occupancy;
use openevent_core::effects::HilTask;
use openevent_core::event::Event;
use openevent_core::ids::{EventId, MessageId, OrgSlug};
use openevent_core::understanding::Understanding;
use openevent_core::workflow;
use openevent_store::{Store, StoreError};

use crate::clock::Clock;
use crate::{Engine, EngineConfig};

/// How far ahead the calendar is loaded for date proposals and site-visit slots. Bounded so that
/// a turn reads the same amount of calendar however many bookings the database holds.
const CALENDAR_DAYS: i64 = 90;

pub(crate) struct TurnData {
    /// Sorted by date; shared with the store's calendar cache (drop it before committing).
    pub occupancy: std::sync::Arc<Vec<Occupancy>>,
    pub calendar_until: Date,
    pub calendar_days: Vec<Date>,
    pub pending: Vec<HilTask>,
    pub thread: Vec<MessageId>,
    pub client_name: Option<String>,
    pub client_phone: Option<String>,
    pub automation: Option<std::sync::Arc<openevent_store::AutomationSetup>>,
    pub booking_automation: Option<openevent_store::BookingAutomation>,
    /// The organization's venue for this turn.
    pub venue: std::sync::Arc<crate::VenueBundle>,
    /// The venue with the booking's workflow's quote terms, when its workflow sets any: offers
    /// state the workflow's payment and validity days.
    pub offer_venue: Option<openevent_core::venue::Venue>,
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
            venue: self.offer_venue.as_ref().unwrap_or(&self.venue.venue),
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

impl TurnData {
    /// What writing the booking as `w.after` changes in its automation.
    pub fn automation_changes(
        &self,
        w: &crate::automation::Write<'_>,
    ) -> Option<(
        openevent_store::AutomationChanges,
        Vec<openevent_core::AuditEntry>,
    )> {
        crate::automation::changes(
            self.automation.as_deref(),
            self.booking_automation.as_ref(),
            w,
        )
    }

    /// The other bookings this turn saw holding `event`'s room around its date: what the store
    /// checks, inside the commit, that nobody else joined meanwhile.
    pub fn calendar_seen(&self, event: Option<&Event>) -> Vec<EventId> {
        let Some(e) = event else {
            return Vec::new();
        };
        let (Some(room), Some(date)) = (&e.locked_room_id, e.chosen_date) else {
            return Vec::new();
        };
        openevent_core::calendar::around(&self.occupancy, date)
            .iter()
            .filter(|o| &o.room_id == room && o.event_id != e.event_id)
            .map(|o| o.event_id.clone())
            .collect()
    }
}

impl<S: Store, C: Clock> Engine<S, C> {
    pub(crate) async fn turn_data(
        &self,
        org: &OrgSlug,
        venue: std::sync::Arc<crate::VenueBundle>,
        event: Option<&Event>,
        understanding: Option<&Understanding>,
        now: Timestamp,
    ) -> Result<TurnData, StoreError> {
        let today = now.to_zoned(venue.venue.time_zone().clone()).date();
        let from = today.checked_sub(1.day()).unwrap_or(today);
        let until = today.checked_add(CALENDAR_DAYS.days()).unwrap_or(today);
        let calendar_days: Vec<Date> = workflow::calendar_days(today, event, understanding)
            .into_iter()
            .filter(|d| *d > until)
            .collect();
        // The loaded window, then the named days beyond it: consecutive days (a preferred month)
        // are read as one range, each widened by a day on both sides for overnight bookings and
        // buffers.
        let mut ranges: Vec<(Date, Date)> =
            vec![(from, until.checked_add(1.day()).unwrap_or(until))];
        let mut named: Vec<(Date, Date)> = Vec::new();
        for d in &calendar_days {
            match named.last_mut() {
                Some((_, end)) if end.tomorrow().ok() == Some(*d) => *end = *d,
                _ => named.push((*d, *d)),
            }
        }
        ranges.extend(named.into_iter().map(|(start, end)| {
            (
                start.checked_sub(1.day()).unwrap_or(start),
                end.checked_add(1.day()).unwrap_or(end),
            )
        }));
        let loaded = self
            .store
            .turn_context(org, &ranges, event.map(|e| (&e.event_id, &e.client_email)))
            .await?;
        Ok(TurnData {
            // Sorted by date by the store, as the workflow's availability checks need it.
            occupancy: loaded.occupancy,
            calendar_until: until,
            calendar_days,
            pending: loaded.pending_tasks,
            thread: loaded.thread,
            client_name: loaded.client_name,
            client_phone: loaded.client_phone,
            offer_venue: crate::automation::offer_venue(
                &venue.venue,
                loaded.automation.as_deref(),
                loaded.booking_automation.as_ref(),
                event.map(|e| e.status),
            ),
            automation: loaded.automation,
            booking_automation: loaded.booking_automation,
            venue,
        })
    }
}
