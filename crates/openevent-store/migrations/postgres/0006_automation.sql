-- The automation engine: per organization its settings and a revision that every change of
-- settings, workflows or rules bumps (readers cache the decoded setup by it); workflow
-- definitions, every version kept (jobs carry the version they were scheduled from); assignment
-- rules; and per booking the automation record (snapshot with anchor versions) and a manager's
-- workflow override. Automation jobs are outbox rows of kind 'automation'.

CREATE TABLE automation_orgs (
    org_id      TEXT    NOT NULL PRIMARY KEY,
    revision    BIGINT  NOT NULL,
    settings    TEXT,
    updated_at  BIGINT  NOT NULL
);

CREATE TABLE automation_workflows (
    org_id        TEXT    NOT NULL,
    workflow_key  TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    enabled       BIGINT  NOT NULL,
    definition    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (org_id, workflow_key, version)
);

CREATE TABLE automation_rules (
    org_id      TEXT    NOT NULL,
    rule_id     TEXT    NOT NULL,
    rule        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (org_id, rule_id)
);

CREATE TABLE automation_bookings (
    org_id           TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    record           TEXT,
    override         TEXT,
    next_completion  BIGINT,
    updated_at       BIGINT  NOT NULL,
    PRIMARY KEY (org_id, event_id)
);
CREATE INDEX automation_completions ON automation_bookings (next_completion)
    WHERE next_completion IS NOT NULL;

ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'reply';
-- The workflow an automation job belongs to, for per-workflow delivery statistics.
ALTER TABLE outbox ADD COLUMN workflow_key TEXT;
CREATE INDEX outbox_by_event ON outbox (org_id, event_id, kind);
