//! Message recipients per project per day, limited across two instances.

use openhumans::clock::{DAY, SECOND};

use super::{Pair, retry_after};
use crate::api::{API, ApiSetup, master_token};
use crate::messaging::{add_member, recipient_count};
use crate::oauth2::Setup;
use crate::support::TestApp;

async fn message(app: &TestApp, token: &str, project_member_id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(&format!("{API}message/")))
        .query(&[("access_token", token)])
        .form(&[
            ("subject", "Weekly steps"),
            ("message", "Thank you for taking part."),
            ("project_member_ids", project_member_id),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn recipients_per_project_per_day() {
    let Pair {
        apps: [first, second],
        clock,
        database: _database,
    } = Pair::start(|settings| settings.messages_per_project_per_day = 3).await;
    let api = ApiSetup::from_setup(Setup::on(first, |_| {}).await).await;
    let apps = [api.app(), &second];
    let (_, grace) = add_member(apps[0], api.project_id(), "Grace_H").await;
    let recipients = [api.project_member_id.as_str(), grace.as_str()];
    for n in 0..3 {
        let response = message(apps[n % 2], &api.master_token, recipients[n % 2]).await;
        assert_eq!(response.status(), 200, "message {n}");
    }

    let limited = message(apps[1], &api.master_token, recipients[1]).await;

    retry_after(&limited, 86_400);
    assert_eq!(recipient_count(apps[0], api.project_id()).await, 3);
    clock.advance(DAY + SECOND);
    // The master token expired with the day, so the project gets a new one.
    let token = master_token(apps[0], api.project_id()).await;
    let later = message(apps[0], &token, recipients[0]).await;
    assert_eq!(later.status(), 200, "the window moved on");
}
