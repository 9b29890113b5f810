-- Memberships with their permission snapshots, and the OAuth2 authorization server:
-- codes, grants, access and refresh tokens. Codes and tokens are stored only as keyed
-- hashes. Timestamps are integer microseconds since the Unix epoch (UTC); flags are
-- 0 or 1.

-- One row per member and project, created at the member's first consent and kept
-- across leaving and rejoining, so project_member_id never changes.
CREATE TABLE memberships (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    project_member_id TEXT NOT NULL UNIQUE,
    joined INTEGER NOT NULL DEFAULT 0,
    authorized INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0,
    visible INTEGER NOT NULL DEFAULT 1,
    -- The permission snapshot: what the member granted at the last authorization.
    message_permission INTEGER NOT NULL DEFAULT 0,
    username_shared INTEGER NOT NULL DEFAULT 0,
    erasure_requested_at INTEGER,
    created_at INTEGER NOT NULL,
    authorized_at INTEGER,
    revoked_at INTEGER,
    UNIQUE (project_id, member_id)
);
CREATE INDEX memberships_member ON memberships (member_id);

-- The sources of the permission snapshot.
CREATE TABLE membership_sources (
    membership_id INTEGER NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    source_project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (membership_id, source_project_id)
);

-- Every authorization and withdrawal with the snapshot it granted or ended.
-- granted_sources is a JSON array of project ids.
CREATE TABLE membership_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    membership_id INTEGER NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    granted_sources TEXT NOT NULL,
    message_permission INTEGER NOT NULL,
    username_shared INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX membership_events_membership ON membership_events (membership_id, at);

-- Authorization codes. A used code is kept until it expires, so that a replay can
-- be recognized and the grants issued from it revoked.
CREATE TABLE oauth2_codes (
    code_hash TEXT PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    membership_id INTEGER NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    redirect_uri_given INTEGER NOT NULL,
    scope TEXT NOT NULL,
    code_challenge TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX oauth2_codes_membership ON oauth2_codes (membership_id);
CREATE INDEX oauth2_codes_expiry ON oauth2_codes (expires_at);

-- One grant per code exchange; refreshing keeps the grant and rotates its tokens.
CREATE TABLE oauth2_grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    membership_id INTEGER NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX oauth2_grants_membership ON oauth2_grants (membership_id);
CREATE INDEX oauth2_grants_code ON oauth2_grants (code_hash);

CREATE TABLE oauth2_access_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id INTEGER NOT NULL REFERENCES oauth2_grants (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX oauth2_access_tokens_grant ON oauth2_access_tokens (grant_id);

-- A refresh token is current while rotated_at is NULL. A rotated token is kept until
-- it expires, so that its reuse can be recognized (and, after the grace period,
-- revoke the grant).
CREATE TABLE oauth2_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id INTEGER NOT NULL REFERENCES oauth2_grants (id) ON DELETE CASCADE,
    access_token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER
);
CREATE INDEX oauth2_refresh_tokens_grant ON oauth2_refresh_tokens (grant_id);
