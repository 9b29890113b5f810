-- Project messages to members and their per-recipient outbox. Timestamps are integer
-- microseconds since the Unix epoch (UTC).

-- One row per message a project sent: the subject and the body before the
-- per-recipient substitution of {{ PROJECT_MEMBER_ID }}.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- 'master-token', 'member-token' or 'coordinator'.
    sent_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- One row per recipient of a message. message_id_header is the Message-ID, fixed
-- when the message is queued so that every retry carries the same one. state is
-- 'queued', 'sent' or 'cancelled' (the member withdrew or their account was
-- suspended before the email went out). project_id and created_at repeat the
-- message's, so the daily limit counts recipients from one index.
CREATE TABLE message_recipients (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    project_member_id TEXT NOT NULL,
    message_id_header TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX message_recipients_project ON message_recipients (project_id, created_at);
CREATE INDEX message_recipients_member ON message_recipients (member_id, created_at, id);
