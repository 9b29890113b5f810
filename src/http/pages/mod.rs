//! HTML pages, one module per area of the site.

pub mod home;
pub mod projects;
