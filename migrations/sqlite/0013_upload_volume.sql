-- Bytes each project stored through uploads, one row per upload, for the limit on a
-- project's upload volume per day. The row of an upload still streaming holds the
-- bytes reserved so far and is set to the stored size when the upload ends.
CREATE TABLE upload_volume (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX upload_volume_project ON upload_volume (project_id, at);
