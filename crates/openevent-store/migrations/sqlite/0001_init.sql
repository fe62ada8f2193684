-- openevent schema v1 (SQLite). Every row is scoped by organization. Timestamps are integer
-- microseconds since the Unix epoch (UTC); JSON documents are TEXT.

CREATE TABLE organizations (
    org_id      TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE clients (
    org_id      TEXT    NOT NULL REFERENCES organizations (org_id),
    email       TEXT    NOT NULL,
    profile     TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (org_id, email)
);

-- `record` is the booking document; the other columns are projections of it kept for queries,
-- written only together with it.
CREATE TABLE events (
    org_id        TEXT    NOT NULL,
    event_id      TEXT    NOT NULL,
    client_email  TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    current_step  BIGINT  NOT NULL,
    chosen_date   TEXT,
    version       BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    record        TEXT    NOT NULL,
    PRIMARY KEY (org_id, event_id),
    FOREIGN KEY (org_id, client_email) REFERENCES clients (org_id, email)
);
CREATE INDEX events_by_client ON events (org_id, client_email, updated_at);
CREATE INDEX events_by_status ON events (org_id, status, current_step);

-- Every message in or out, keyed by Message-ID per organization: the idempotency key for
-- inbound mail and the threading index for replies.
CREATE TABLE messages (
    org_id        TEXT    NOT NULL,
    message_id    TEXT    NOT NULL,
    direction     TEXT    NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    client_email  TEXT    NOT NULL,
    event_id      TEXT,
    subject       TEXT    NOT NULL,
    raw           BLOB,
    received_at   BIGINT  NOT NULL,
    result        TEXT,
    PRIMARY KEY (org_id, message_id)
);
CREATE INDEX messages_by_client ON messages (org_id, client_email);

CREATE TABLE history (
    id             INTEGER PRIMARY KEY,
    org_id         TEXT    NOT NULL,
    client_email   TEXT    NOT NULL,
    msg_id         TEXT    NOT NULL,
    event_id       TEXT,
    ts             BIGINT  NOT NULL,
    subject        TEXT    NOT NULL,
    body_preview   TEXT    NOT NULL,
    intent         TEXT    NOT NULL,
    confidence_pm  BIGINT  NOT NULL,
    UNIQUE (org_id, msg_id)
);
CREATE INDEX history_by_client ON history (org_id, client_email, id);

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    org_id      TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    ts          BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    from_step   BIGINT,
    to_step     BIGINT,
    reason      TEXT    NOT NULL,
    fields      TEXT    NOT NULL
);
CREATE INDEX audit_by_event ON audit (org_id, event_id, id);

CREATE TABLE drafts (
    org_id             TEXT    NOT NULL,
    draft_id           TEXT    NOT NULL,
    event_id           TEXT,
    to_email           TEXT    NOT NULL,
    topic              TEXT    NOT NULL,
    subject            TEXT    NOT NULL,
    body               TEXT    NOT NULL,
    requires_approval  BIGINT  NOT NULL,
    in_reply_to        TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    PRIMARY KEY (org_id, draft_id)
);

CREATE TABLE tasks (
    org_id             TEXT    NOT NULL,
    task_id            TEXT    NOT NULL,
    event_id           TEXT,
    task_type          TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    step               BIGINT,
    draft_id           TEXT,
    reason             TEXT    NOT NULL,
    source_message_id  TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    PRIMARY KEY (org_id, task_id)
);
CREATE INDEX tasks_by_status ON tasks (org_id, status, created_at);
CREATE INDEX tasks_by_event ON tasks (org_id, event_id);

-- Outbound work, inserted in the same transaction as the change that caused it; a delivery key
-- per send makes a second send of the same message impossible.
CREATE TABLE outbox (
    org_id        TEXT    NOT NULL,
    job_id        TEXT    NOT NULL,
    event_id      TEXT,
    channel       TEXT    NOT NULL,
    delivery_key  TEXT    NOT NULL UNIQUE,
    payload       TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    due_at        BIGINT  NOT NULL,
    attempts      BIGINT  NOT NULL DEFAULT 0,
    lease_until   BIGINT,
    last_error    TEXT,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (org_id, job_id)
);
CREATE INDEX outbox_due ON outbox (status, due_at);
