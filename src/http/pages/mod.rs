//! HTML pages, one module per area of the site.

pub mod connections;
pub mod home;
