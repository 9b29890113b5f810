//! Rules of the domain as plain functions and types: no HTTP and no SQL here.

pub mod approval;
pub mod datatypes;
pub mod files;
pub mod forms;
pub mod member;
pub mod membership;
pub mod messaging;
pub mod oauth2;
pub mod password;
pub mod project;
pub mod webhooks;
