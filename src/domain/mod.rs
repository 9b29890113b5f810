//! Rules of the domain as plain functions and types: no HTTP and no SQL here.

pub mod datatypes;
pub mod files;
pub mod forms;
pub mod password;
pub mod project;
