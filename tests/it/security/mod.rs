//! Access control and security headers across the whole site.

mod coverage;
mod cross_project;
mod headers;
mod matrix;
mod world;
