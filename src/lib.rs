//! openhumans: members hold their personal data and share it, under their own
//! control, with research projects through OAuth2 and an API compatible with the
//! Open Humans platform.
//!
//! Layers, each depending only on those below it: [`http`] (routes, pages, API),
//! [`jobs`] (background work), [`domain`] (rules as plain functions), [`db`],
//! [`blob`] and [`mail`] (the outside systems), [`config`].

pub mod admin;
pub mod app;
pub mod blob;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod telemetry;
