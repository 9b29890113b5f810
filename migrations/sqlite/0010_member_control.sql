-- Exports of a member's data: one zip of all their files plus a JSON manifest,
-- built by a background job. Timestamps are integer microseconds since the Unix
-- epoch (UTC).

-- state is 'queued', 'building', 'ready' or 'failed'. storage_key, size and
-- expires_at are set when the zip is ready; the row and its object are deleted after
-- expires_at.
CREATE TABLE exports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    storage_key TEXT,
    size INTEGER,
    error TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    expires_at INTEGER
);
CREATE INDEX exports_member ON exports (member_id, id);
CREATE INDEX exports_expiry ON exports (expires_at);
-- At most one export per member is queued or building at any time.
CREATE UNIQUE INDEX exports_one_in_progress ON exports (member_id)
    WHERE state IN ('queued', 'building');
