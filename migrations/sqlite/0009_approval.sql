-- The approval workflow: each project's current request and its history of
-- decisions. Timestamps are integer microseconds since the Unix epoch (UTC).

-- One row per project that has left the draft state. state is 'draft', 'in_review',
-- 'changes_requested' or 'approved'; projects.approved stays the flag that lifts the
-- member cap, and every transition updates both in one transaction.
CREATE TABLE project_approvals (
    project_id INTEGER PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    guidelines_acknowledged_at INTEGER,
    ethics_board TEXT NOT NULL DEFAULT '',
    ethics_reference TEXT NOT NULL DEFAULT '',
    -- Storage key and original name of the ethics approval document (a PDF).
    document_key TEXT,
    document_name TEXT,
    discussion_url TEXT NOT NULL DEFAULT '',
    submitted_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX project_approvals_state ON project_approvals (state, submitted_at);

-- Every submission and decision. actor_id is NULL for the command line; actor_name
-- keeps who acted even after their account is deleted.
CREATE TABLE approval_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    actor_id INTEGER REFERENCES members (id) ON DELETE SET NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL
);
CREATE INDEX approval_events_project ON approval_events (project_id, at, id);

-- Projects approved before this workflow existed start in the approved state.
INSERT INTO project_approvals (project_id, state, updated_at)
SELECT id, 'approved', updated_at FROM projects WHERE approved = 1;
