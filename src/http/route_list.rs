//! A router builder that records the path of each route it registers.

use axum::Router;
use axum::routing::MethodRouter;

/// Routes added through [`RouteList::route`] become an axum [`Router`], and their path
/// patterns stay readable, so tests can check that a table of routes covers them all.
pub struct RouteList<S> {
    router: Router<S>,
    paths: Vec<&'static str>,
}

impl<S: Clone + Send + Sync + 'static> RouteList<S> {
    pub fn new() -> Self {
        RouteList {
            router: Router::new(),
            paths: Vec::new(),
        }
    }

    /// Adds a route, as [`Router::route`] does, and records its path.
    pub fn route(mut self, path: &'static str, method_router: MethodRouter<S>) -> Self {
        self.router = self.router.route(path, method_router);
        self.paths.push(path);
        self
    }

    /// Returns the path patterns, in the order they were added.
    pub fn paths(&self) -> &[&'static str] {
        &self.paths
    }

    /// Returns the router that the routes were added to.
    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

impl<S: Clone + Send + Sync + 'static> Default for RouteList<S> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::{get, post};

    use super::*;

    #[test]
    fn paths_are_recorded_in_order() {
        let routes: RouteList<()> = RouteList::new()
            .route("/healthz", get(|| async {}))
            .route("/items/{id}/", post(|| async {}));

        assert_eq!(routes.paths(), ["/healthz", "/items/{id}/"]);
    }
}
