//! HTML pages, one module per area of the site.

pub mod accounts;
pub mod admin;
pub mod approval;
pub mod connections;
pub mod data;
pub mod data_access_log;
pub mod data_agreements;
pub mod data_export;
pub mod datatypes;
pub mod directory;
pub mod home;
pub mod messages;
pub mod projects;
