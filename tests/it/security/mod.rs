//! Access control and security headers across the whole site.

mod coverage;
mod headers;
mod matrix;
mod world;
