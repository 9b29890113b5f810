//! Integration tests: each spawns a real server (see `support`) and talks HTTP to it.
//! Modules mirror the site's areas.

mod support;

mod admin;
mod ops;
mod projects;
