//! The check that the matrix has a row for every route and method the server serves,
//! and none for a route it does not.

use std::collections::BTreeSet;

use reqwest::Method;

use super::matrix::Row;
use super::world::World;

/// Fails unless the table has exactly one row per route and method that the server
/// serves. The server lists its route paths itself, and the methods of each path are
/// the ones its 405 response allows.
pub async fn check_coverage(world: &World, table: &[Row]) {
    let mut problems = Vec::new();

    let served: BTreeSet<&str> = openhumans::http::route_paths().into_iter().collect();
    let listed: BTreeSet<&str> = table.iter().map(|row| row.pattern).collect();
    for path in served.difference(&listed) {
        problems.push(format!("{path} is served but has no row"));
    }
    for path in listed.difference(&served) {
        problems.push(format!("{path} has a row but is not served"));
    }

    let mut listed_methods = BTreeSet::new();
    let mut served_methods = BTreeSet::new();
    for row in table {
        if !path_fits_pattern(&row.path, row.pattern) {
            problems.push(format!("{} does not fit {}", row.path, row.pattern));
        }
        if listed_methods.contains(&(row.pattern, row.method.to_string())) {
            problems.push(format!("{} {} has two rows", row.method, row.pattern));
        }
        for method in row.methods() {
            listed_methods.insert((row.pattern, method.to_string()));
        }
        match allowed_methods(world, &row.path).await {
            Ok(methods) => {
                for method in methods {
                    served_methods.insert((row.pattern, method));
                }
            }
            Err(problem) => problems.push(problem),
        }
    }
    for (pattern, method) in served_methods.difference(&listed_methods) {
        problems.push(format!("{method} {pattern} is served but has no row"));
    }
    for (pattern, method) in listed_methods.difference(&served_methods) {
        problems.push(format!("{method} {pattern} has a row but is not served"));
    }

    assert!(
        problems.is_empty(),
        "the matrix does not match the server's routes:\n{}",
        problems.join("\n")
    );
}

/// Returns the methods that the route at `path` accepts, read from the `Allow` header
/// of the 405 that PATCH gets, a method no route takes.
async fn allowed_methods(world: &World, path: &str) -> Result<Vec<String>, String> {
    let path = path.split('?').next().unwrap_or(path);
    let response = reqwest::Client::new()
        .request(Method::PATCH, world.app().url(path))
        .send()
        .await
        .unwrap();
    if response.status() != 405 {
        return Err(format!(
            "PATCH {path} got {}, not 405, so no route serves {path}",
            response.status()
        ));
    }
    let allow = response
        .headers()
        .get("allow")
        .ok_or_else(|| format!("the 405 for PATCH {path} has no Allow header"))?;
    Ok(allow
        .to_str()
        .unwrap()
        .split(',')
        .map(|method| method.trim().to_string())
        .collect())
}

/// Returns whether `path`, without its query, is an instance of the route `pattern`.
fn path_fits_pattern(path: &str, pattern: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let parts: Vec<&str> = pattern.split('/').collect();
    segments.len() == parts.len()
        && segments
            .iter()
            .zip(&parts)
            .all(|(segment, part)| part.starts_with('{') || segment == part)
}
