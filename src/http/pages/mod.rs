//! HTML pages, one module per area of the site.

pub mod datatypes;
pub mod home;
