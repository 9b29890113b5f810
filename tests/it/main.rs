//! Integration tests: each spawns a real server (see `support`) and talks HTTP to it.
//! Modules mirror the site's areas.

mod support;

mod connections;
mod oauth2;
mod ops;
