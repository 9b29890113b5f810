//! Integration tests: each spawns a real server (see `support`) and talks HTTP to it.
//! Modules mirror the site's areas.

mod support;

mod api_basics;
mod browser;
mod datatypes;
mod ops;
mod storage;
