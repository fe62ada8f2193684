//! The organization's calendar (bookings that hold a room) kept decoded in memory, so that a
//! turn does not decode every booking of the coming months again.
//!
//! Valid while no other connection wrote: SQLite's `PRAGMA data_version` changes exactly when
//! another connection (another process) commits; this connection's own commits update the cache
//! in place, on the connection's thread, right after they commit. Anything else reloads it.
//! PostgreSQL has no such counter, and several processes write, so there every turn reads the
//! calendar from the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use jiff::civil::Date;
use openevent_core::calendar::{Occupancy, Window};
use openevent_core::event::{Event, Status};

use crate::StoreError;
use crate::db::Conn;

struct OrgCalendar {
    data_version: i64,
    /// Bookings dated `from` or later, sorted by (date, event id).
    from: Date,
    rows: Arc<Vec<Occupancy>>,
}

/// A booking's place in the calendar after a write (`None`: it holds no room).
pub(crate) fn occupancy_of(e: &Event) -> Option<Occupancy> {
    if !matches!(e.status, Status::Option | Status::Confirmed) {
        return None;
    }
    Some(Occupancy {
        event_id: e.event_id.clone(),
        room_id: e.locked_room_id.clone()?,
        date: e.chosen_date?,
        window: match (e.start_time, e.end_time) {
            (Some(start), Some(end)) => Some(Window { start, end }),
            _ => None,
        },
    })
}

#[derive(Default)]
pub(crate) struct CalendarCache {
    orgs: Mutex<HashMap<String, OrgCalendar>>,
}

impl std::fmt::Debug for CalendarCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CalendarCache")
    }
}

impl CalendarCache {
    /// The organization's bookings from `from` on, sorted; `load` reads them from the database
    /// when the cache cannot answer.
    pub(crate) fn get(
        &self,
        c: &mut dyn Conn,
        org: &str,
        from: Date,
        load: impl FnOnce(&mut dyn Conn) -> Result<Vec<Occupancy>, StoreError>,
    ) -> Result<Arc<Vec<Occupancy>>, StoreError> {
        let Some(version) = c.data_version()? else {
            // Another process may have written without this one noticing: read afresh.
            let mut rows = load(c)?;
            crate::sort_occupancy(&mut rows);
            return Ok(Arc::new(rows));
        };
        let mut orgs = self.orgs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cal) = orgs.get(org)
            && cal.data_version == version
            && cal.from <= from
        {
            return Ok(Arc::clone(&cal.rows));
        }
        let mut rows = load(c)?;
        crate::sort_occupancy(&mut rows);
        let rows = Arc::new(rows);
        orgs.insert(
            org.to_owned(),
            OrgCalendar {
                data_version: version,
                from,
                rows: Arc::clone(&rows),
            },
        );
        Ok(rows)
    }

    /// Applies this connection's own committed booking writes.
    pub(crate) fn apply(
        &self,
        org: &str,
        changes: &[(openevent_core::ids::EventId, Option<Occupancy>)],
    ) {
        let mut orgs = self.orgs.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(cal) = orgs.get_mut(org) else {
            return;
        };
        let rows = Arc::make_mut(&mut cal.rows);
        for (event_id, now) in changes {
            rows.retain(|o| &o.event_id != event_id);
            if let Some(o) = now
                && o.date >= cal.from
            {
                let at = rows.partition_point(|r| (r.date, &r.event_id) < (o.date, &o.event_id));
                rows.insert(at, o.clone());
            }
        }
    }
}
