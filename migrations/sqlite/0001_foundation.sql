-- Members, sessions, one-time email tokens, rate-limit events, projects and jobs.
-- Timestamps are integer microseconds since the Unix epoch (UTC); flags are 0 or 1
-- so that one decoding path serves SQLite and PostgreSQL.

CREATE TABLE members (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    username_lower TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    email_verified_at INTEGER,
    is_admin INTEGER NOT NULL DEFAULT 0,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_member ON sessions (member_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Email verification and password reset links; only a keyed hash of the token is kept.
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX email_tokens_member ON email_tokens (member_id, purpose);

-- One row per counted event (a failed login, a signup, a reset email), so limits
-- hold across every instance that shares the database.
CREATE TABLE rate_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX rate_events_bucket ON rate_events (bucket, at);

CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    coordinator_id INTEGER NOT NULL REFERENCES members (id),
    name TEXT NOT NULL,
    is_study INTEGER NOT NULL,
    leader TEXT NOT NULL,
    organization TEXT NOT NULL DEFAULT '',
    is_academic_or_nonprofit INTEGER NOT NULL,
    contact_email TEXT NOT NULL,
    info_url TEXT NOT NULL,
    short_description TEXT NOT NULL,
    long_description TEXT NOT NULL DEFAULT '',
    returned_data_description TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
    approved INTEGER NOT NULL DEFAULT 0,
    badge_key TEXT,
    request_message_permission INTEGER NOT NULL,
    request_username_access INTEGER NOT NULL,
    enrollment_url TEXT NOT NULL,
    terms_url TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    deauth_webhook TEXT,
    webhook_secret TEXT,
    erasure_supported INTEGER NOT NULL DEFAULT 0,
    deauth_email_notification INTEGER NOT NULL DEFAULT 0,
    require_pkce INTEGER NOT NULL DEFAULT 0,
    client_id TEXT NOT NULL UNIQUE,
    client_secret_hash TEXT NOT NULL,
    client_secret_rotated_at INTEGER NOT NULL,
    master_token_hash TEXT UNIQUE,
    master_token_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX projects_coordinator ON projects (coordinator_id);

CREATE TABLE requested_sources (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    source_project_id INTEGER NOT NULL REFERENCES projects (id),
    PRIMARY KEY (project_id, source_project_id)
);

-- Durable background work. A worker claims a job by setting lease_token and
-- locked_until; a job whose lease expired is claimed again by any worker.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at INTEGER NOT NULL,
    lease_token TEXT,
    locked_by TEXT,
    locked_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX jobs_runnable ON jobs (state, run_at);

CREATE TABLE job_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    worker TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    error TEXT
);
CREATE INDEX job_attempts_job ON job_attempts (job_id);
