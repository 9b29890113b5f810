-- Withdrawals from projects and the deauthorization webhooks they cause. Timestamps
-- are integer microseconds since the Unix epoch (UTC); flags are 0 or 1.

-- Every withdrawal and removal, for the project's withdrawn-members page and its
-- notice email. Rows keep the project_member_id rather than a reference to the
-- membership, so they outlive the member's account.
CREATE TABLE withdrawals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    project_member_id TEXT NOT NULL,
    -- 'self', 'project-coordinator' or 'account-deleted'.
    reason TEXT NOT NULL,
    erasure_requested INTEGER NOT NULL,
    files_deleted INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX withdrawals_project ON withdrawals (project_id, at, id);

-- One row per webhook message. webhook_id and body are fixed when the message is
-- queued and sent unchanged on every attempt and redelivery. state is 'pending',
-- 'delivered' or 'failed'.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    withdrawal_id INTEGER REFERENCES withdrawals (id) ON DELETE SET NULL,
    webhook_id TEXT NOT NULL UNIQUE,
    project_member_id TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX webhook_deliveries_project ON webhook_deliveries (project_id, id);

-- Every POST of a delivery: the HTTP status, or the error when there was none.
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
