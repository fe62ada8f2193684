-- Reads every turn makes, indexed so their cost does not grow with the database.
CREATE INDEX messages_by_event ON messages (org_id, event_id, received_at);
-- A booking's pending tasks: without the status and order columns, SQLite preferred the
-- organization-wide status index and scanned every pending task.
DROP INDEX tasks_by_event;
CREATE INDEX tasks_by_event ON tasks (org_id, event_id, status, created_at);
