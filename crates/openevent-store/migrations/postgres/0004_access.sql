-- API tokens: only a SHA-256 of each token is kept; the token itself is shown once at creation.
CREATE TABLE api_tokens (
    token_hash  TEXT    NOT NULL PRIMARY KEY,
    token_id    TEXT    NOT NULL UNIQUE,
    org_id      TEXT    NOT NULL REFERENCES organizations (org_id),
    role        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    revoked_at  BIGINT
);

-- Listing an organization's bookings newest first (created_at never changes, so booking updates
-- do not rewrite this index).
CREATE INDEX events_by_org_created ON events (org_id, created_at);
