//! Integration tests: each spawns a real server (see `support`) and talks HTTP to it.
//! Modules mirror the site's areas.

mod support;

mod accounts;
mod admin;
mod api;
mod api_basics;
mod approval;
mod binary;
mod browser;
mod connections;
mod data_pages;
mod datatypes;
mod db_read;
mod jobs;
mod limits;
mod local_store;
mod mail;
mod member_control;
mod messaging;
mod oauth2;
mod ops;
mod projects;
mod scale;
mod security;
mod storage;
mod withdrawal;
