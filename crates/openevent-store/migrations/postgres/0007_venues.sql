-- An organization's own venue (rooms, products, policies), edited over the API; without a row
-- the organization uses the server's venue file. `revision` increases with every save, so that
-- processes cache the decoded venue and notice another process's edit.
CREATE TABLE venues (
    org_id      TEXT    NOT NULL PRIMARY KEY,
    spec        TEXT    NOT NULL,
    revision    BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
