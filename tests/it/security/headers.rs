//! The security headers that every response must carry.

use reqwest::header::HeaderMap;

/// Lists what is wrong with the security headers of a response to the route `pattern`.
pub fn header_problems(pattern: &str, headers: &HeaderMap) -> Vec<String> {
    let value = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let mut problems = Vec::new();

    match value("content-security-policy") {
        None => problems.push("no Content-Security-Policy".to_string()),
        Some(policy) => {
            let script = policy
                .split(';')
                .map(str::trim)
                .find(|directive| directive.starts_with("script-src"));
            if script.is_none_or(|directive| directive.contains("'unsafe-inline'")) {
                problems.push(format!("scripts are not limited to the site: {policy}"));
            }
            if !policy.contains("frame-ancestors 'none'") {
                problems.push(format!("other sites may frame the page: {policy}"));
            }
        }
    }
    if value("x-content-type-options") != Some("nosniff") {
        problems.push("X-Content-Type-Options is not nosniff".to_string());
    }
    if value("referrer-policy").is_none() {
        problems.push("no Referrer-Policy".to_string());
    }
    // The test server is plain HTTP without a trusted proxy in front.
    if value("strict-transport-security").is_some() {
        problems.push("Strict-Transport-Security over plain HTTP".to_string());
    }

    // Static assets and badges are public, so they may be cached. Every other response
    // may carry personal data or a credential.
    let public = pattern.starts_with("/static/") || pattern.starts_with("/direct-sharing/badges/");
    let cache_control = value("cache-control");
    if !public && !cache_control.is_some_and(|cache| cache.contains("no-store")) {
        problems.push(format!("Cache-Control is {cache_control:?}, not no-store"));
    }
    problems
}
