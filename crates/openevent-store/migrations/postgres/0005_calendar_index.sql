-- The calendar a turn reads (booked rooms by date) straight from one index: only bookings that
-- hold a room are in it, with every column the query needs, so a full calendar costs no table
-- lookups.
CREATE INDEX events_occupancy ON events (org_id, chosen_date, locked_room_id, start_time, end_time, event_id)
    WHERE status IN ('option', 'confirmed') AND locked_room_id IS NOT NULL;
