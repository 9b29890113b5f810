//! HTML pages, one module per area of the site.

pub mod accounts;
pub mod admin;
pub mod approval;
pub mod connections;
pub mod data;
pub mod datatypes;
pub mod directory;
pub mod home;
pub mod projects;
