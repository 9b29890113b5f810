//! Limit/offset pagination of API lists, with `next` and `previous` links that
//! clients follow verbatim.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;

use crate::app::AppState;

/// Page size when the request gives none (or an invalid one).
pub const DEFAULT_LIMIT: i64 = 100;
/// Largest page size; larger requests are clamped to it.
pub const MAX_LIMIT: i64 = 1000;

/// The page a list request selects, and what is needed to link its neighbours.
///
/// `limit` defaults to 100 when absent, not an integer or not positive, and is
/// clamped to 1000. `offset` is 0 when absent, not an integer or negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub offset: i64,
    /// Absolute URL of the request without its query, e.g.
    /// `https://example.org/api/direct-sharing/project/members/`.
    url: String,
    /// The request's query parameters, in order, decoded.
    query: Vec<(String, String)>,
}

/// A page of results: `count`, `next`, `previous`, then `results`, in that order.
#[derive(Debug, Clone, Serialize)]
pub struct Paginated<T> {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl PageRequest {
    /// Reads the page from `path` and its raw `query`, linking back through
    /// `public_url` (no trailing slash).
    pub fn new(public_url: &str, path: &str, query: Option<&str>) -> Self {
        let query: Vec<(String, String)> = query
            .map(|query| {
                url::form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let value = |name: &str| {
            query
                .iter()
                .rev()
                .find(|(key, _)| key == name)
                .and_then(|(_, value)| value.trim().parse::<i64>().ok())
        };
        let limit = match value("limit") {
            Some(limit) if limit > 0 => limit.min(MAX_LIMIT),
            _ => DEFAULT_LIMIT,
        };
        let offset = value("offset").filter(|&offset| offset > 0).unwrap_or(0);
        Self {
            limit,
            offset,
            url: format!("{public_url}{path}"),
            query,
        }
    }

    /// The link to the following page, or `None` when this page reaches `count`.
    pub fn next_url(&self, count: i64) -> Option<String> {
        if self.offset.saturating_add(self.limit) >= count {
            return None;
        }
        Some(self.link(Some(self.offset + self.limit)))
    }

    /// The link to the preceding page, or `None` on the first page. The link drops
    /// `offset` when the preceding page starts at 0.
    pub fn previous_url(&self) -> Option<String> {
        if self.offset <= 0 {
            return None;
        }
        let previous = self.offset - self.limit;
        Some(self.link((previous > 0).then_some(previous)))
    }

    /// Wraps one page of `results` out of `count` in the pagination envelope.
    pub fn page<T>(&self, count: i64, results: Vec<T>) -> Paginated<T> {
        Paginated {
            count,
            next: self.next_url(count),
            previous: self.previous_url(),
            results,
        }
    }

    /// This request's URL with `limit` set and `offset` set or removed; every other
    /// parameter, `access_token` included, is kept in place.
    fn link(&self, offset: Option<i64>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let mut wrote_limit = false;
        let mut wrote_offset = false;
        for (key, value) in &self.query {
            match key.as_str() {
                "limit" if !wrote_limit => {
                    query.append_pair("limit", &self.limit.to_string());
                    wrote_limit = true;
                }
                "offset" if !wrote_offset => {
                    if let Some(offset) = offset {
                        query.append_pair("offset", &offset.to_string());
                    }
                    wrote_offset = true;
                }
                "limit" | "offset" => {}
                _ => {
                    query.append_pair(key, value);
                }
            }
        }
        if !wrote_limit {
            query.append_pair("limit", &self.limit.to_string());
        }
        if let (false, Some(offset)) = (wrote_offset, offset) {
            query.append_pair("offset", &offset.to_string());
        }
        format!("{}?{}", self.url, query.finish())
    }
}

impl FromRequestParts<AppState> for PageRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageRequest::new(
            &state.public_url,
            parts.uri.path(),
            parts.uri.query(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "https://oh.example";
    const PATH: &str = "/api/direct-sharing/project/members/";

    fn page(query: &str) -> PageRequest {
        PageRequest::new(SITE, PATH, Some(query))
    }

    #[test]
    fn limit_and_offset_defaults_and_clamps() {
        let cases = [
            ("", 100, 0),
            ("limit=10&offset=20", 10, 20),
            ("limit=5000", 1000, 0),
            ("limit=0", 100, 0),
            ("limit=-3", 100, 0),
            ("limit=ten", 100, 0),
            ("limit=2.5", 100, 0),
            ("offset=-1", 100, 0),
            ("offset=x", 100, 0),
        ];
        for (query, limit, offset) in cases {
            let request = page(query);
            assert_eq!((request.limit, request.offset), (limit, offset), "{query}");
        }
    }

    #[test]
    fn next_keeps_access_token_and_other_parameters() {
        let request = page("access_token=tok%2Ben&limit=2&source=x");
        assert_eq!(
            request.next_url(5).as_deref(),
            Some(
                "https://oh.example/api/direct-sharing/project/members/\
                 ?access_token=tok%2Ben&limit=2&source=x&offset=2"
            )
        );
    }

    #[test]
    fn next_is_none_on_the_last_page() {
        assert_eq!(page("limit=2&offset=3").next_url(5), None);
        assert_eq!(page("limit=2&offset=4").next_url(5), None);
        assert_eq!(page("").next_url(0), None);
        assert!(page("limit=2&offset=2").next_url(5).is_some());
    }

    #[test]
    fn next_adds_default_limit() {
        let next = page("access_token=t").next_url(150).unwrap();
        assert!(
            next.ends_with("?access_token=t&limit=100&offset=100"),
            "{next}"
        );
    }

    #[test]
    fn next_uses_clamped_limit() {
        let next = page("limit=5000&access_token=t").next_url(3000).unwrap();
        assert!(
            next.ends_with("?limit=1000&access_token=t&offset=1000"),
            "{next}"
        );
    }

    #[test]
    fn previous_drops_offset_at_the_start() {
        assert_eq!(page("limit=2").previous_url(), None);
        assert_eq!(
            page("access_token=t&limit=2&offset=2")
                .previous_url()
                .as_deref(),
            Some("https://oh.example/api/direct-sharing/project/members/?access_token=t&limit=2")
        );
        assert_eq!(
            page("offset=1&limit=2").previous_url().as_deref(),
            Some("https://oh.example/api/direct-sharing/project/members/?limit=2")
        );
        assert_eq!(
            page("offset=5&limit=2&access_token=t")
                .previous_url()
                .as_deref(),
            Some(
                "https://oh.example/api/direct-sharing/project/members/\
                 ?offset=3&limit=2&access_token=t"
            )
        );
    }

    #[test]
    fn envelope_serializes_in_upstream_key_order() {
        let request = page("limit=1");
        let body = serde_json::to_string(&request.page(2, vec![1])).unwrap();
        assert_eq!(
            body,
            "{\"count\":2,\"next\":\"https://oh.example/api/direct-sharing/project/members/\
             ?limit=1&offset=1\",\"previous\":null,\"results\":[1]}"
        );
    }
}
