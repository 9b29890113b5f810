//! HTML pages, one module per area of the site.

pub mod accounts;
pub mod connections;
pub mod data;
pub mod datatypes;
pub mod home;
pub mod messages;
pub mod projects;
