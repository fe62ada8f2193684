-- Workflow support: typed task payloads and decisions, and the event columns the room calendar
-- queries (projections of the record, written only together with it).

ALTER TABLE tasks ADD COLUMN payload TEXT NOT NULL DEFAULT '{"kind":"none"}';
ALTER TABLE tasks ADD COLUMN decided_at BIGINT;
ALTER TABLE tasks ADD COLUMN notes TEXT;
ALTER TABLE tasks ADD COLUMN reject_reason TEXT;
ALTER TABLE tasks ADD COLUMN edited_body TEXT;

ALTER TABLE events ADD COLUMN locked_room_id TEXT;
ALTER TABLE events ADD COLUMN start_time TEXT;
ALTER TABLE events ADD COLUMN end_time TEXT;
CREATE INDEX events_by_date ON events (org_id, chosen_date);
