-- A project's webhook turned off because its receiver answered 410 Gone. Deliveries
-- fail without a request until the coordinator saves the project again, which
-- deletes the row.
CREATE TABLE disabled_webhooks (
    project_id INTEGER PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    disabled_at INTEGER NOT NULL
);
