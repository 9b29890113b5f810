-- Data files that projects upload for members, the datatypes that classify them,
-- and the log of every download. Timestamps are integer microseconds since the Unix
-- epoch (UTC); flags are 0 or 1.

-- Datatypes classify files. Names are unique ignoring case through `name_lower`.
CREATE TABLE datatypes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL UNIQUE,
    parent_id INTEGER REFERENCES datatypes (id),
    description TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '',
    uploadable INTEGER NOT NULL DEFAULT 0,
    last_editor_id INTEGER REFERENCES members (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);
CREATE INDEX datatypes_parent ON datatypes (parent_id);

-- The datatypes a project may attach to the files it uploads.
CREATE TABLE project_datatypes (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    datatype_id INTEGER NOT NULL REFERENCES datatypes (id),
    PRIMARY KEY (project_id, datatype_id)
);
CREATE INDEX project_datatypes_datatype ON project_datatypes (datatype_id);

-- One row per file a project uploaded for a member. Direct uploads start with
-- completed = 0; upload_started_at marks the single accepted PUT to the app's signed
-- upload URL while it streams, and uploaded_at records that the bytes arrived.
CREATE TABLE data_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    storage_key TEXT NOT NULL UNIQUE,
    basename TEXT NOT NULL,
    metadata TEXT NOT NULL,
    size INTEGER,
    md5 TEXT,
    completed INTEGER NOT NULL DEFAULT 0,
    upload_started_at INTEGER,
    uploaded_at INTEGER,
    created_at INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX data_files_member_source ON data_files (member_id, project_id, id);
CREATE INDEX data_files_project ON data_files (project_id, member_id);
CREATE INDEX data_files_incomplete ON data_files (completed, created_at);

CREATE TABLE data_file_datatypes (
    file_id INTEGER NOT NULL REFERENCES data_files (id) ON DELETE CASCADE,
    datatype_id INTEGER NOT NULL REFERENCES datatypes (id),
    PRIMARY KEY (file_id, datatype_id)
);
CREATE INDEX data_file_datatypes_datatype ON data_file_datatypes (datatype_id);

-- Every download through a signed URL, shown to the file's owner. The file's id and
-- name are kept after the file is deleted. No credential is ever stored here.
CREATE TABLE download_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    file_id INTEGER NOT NULL,
    basename TEXT NOT NULL,
    project_id INTEGER REFERENCES projects (id) ON DELETE SET NULL,
    by_member INTEGER NOT NULL DEFAULT 0,
    client_address TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX download_log_member ON download_log (member_id, at);
CREATE INDEX download_log_file ON download_log (file_id);
