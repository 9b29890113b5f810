//! The rate-limit store itself under a burst from two instances' connection pools.

use openhumans::clock::MINUTE;
use openhumans::db::rate_limits::{self, Limit};

use super::Pair;

#[tokio::test]
async fn burst_from_two_pools_admits_exactly_the_limit() {
    let pair = Pair::start(|_| {}).await;
    let limit = Limit {
        max: 10,
        window: MINUTE,
    };
    let now = pair.clock.now();

    let attempts = (0..200).map(|n| {
        let db = &pair.at(n).state.db;
        async move { rate_limits::acquire(db, "burst-test", limit, now).await }
    });
    let results = futures_util::future::join_all(attempts).await;

    let admitted = results
        .iter()
        .filter(|result| matches!(result, Ok(Ok(_))))
        .count();
    let limited = results
        .iter()
        .filter(|result| matches!(result, Ok(Err(_))))
        .count();
    assert_eq!(admitted, 10, "{results:?}");
    assert_eq!(limited, 190, "{results:?}");
    let (events,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM rate_events WHERE bucket = 'burst-test'")
            .fetch_one(&pair.apps[0].state.db.pool)
            .await
            .unwrap();
    assert_eq!(events, 10);
}
