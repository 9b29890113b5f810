//! Integration tests: each spawns a real server (see `support`) and talks HTTP to it.
//! Modules mirror the site's areas.

mod support;

mod accounts;
mod admin;
mod binary;
mod browser;
mod jobs;
mod mail;
mod ops;
mod projects;
