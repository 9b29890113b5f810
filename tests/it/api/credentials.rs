//! Which credentials the project API accepts, and where.

use openhumans::clock::DAY;
use serde_json::Value;

use super::{API, ApiSetup, leave};

async fn detail(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["detail"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn project_info_with_either_token() {
    let api = ApiSetup::new().await;
    for token in [&api.access_token, &api.master_token] {
        let response = api.get("", token, &[]).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["id"], api.project_id());
        assert_eq!(
            body["id_label"],
            format!("direct-sharing-{}", api.project_id())
        );
        assert_eq!(body["authorized_members"], 1);
        assert_eq!(body["type"], "oauth2");
    }
}

#[tokio::test]
async fn token_in_header_or_query() {
    let api = ApiSetup::new().await;
    let url = api.app().url(&format!("{API}exchange-member/"));
    let header = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&api.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(header.status(), 200);

    // The query parameter wins over the header, as on Open Humans.
    let both = reqwest::Client::new()
        .get(&url)
        .query(&[("access_token", &api.access_token)])
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 200);

    let members = reqwest::Client::new()
        .get(api.app().url(&format!("{API}members/")))
        .bearer_auth(&api.master_token)
        .send()
        .await
        .unwrap();
    assert_eq!(members.status(), 200, "master token in the header");
}

#[tokio::test]
async fn missing_and_unknown_tokens_are_401() {
    let api = ApiSetup::new().await;
    let none = reqwest::get(api.app().url(API)).await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer realm=\"api\"");
    assert_eq!(
        detail(none).await,
        "Authentication credentials were not provided."
    );

    let unknown = api.get("", "not-a-token", &[]).await;
    assert_eq!(unknown.status(), 401);
    assert_eq!(detail(unknown).await, "Invalid token.");
}

#[tokio::test]
async fn expired_master_token_is_401() {
    let api = ApiSetup::new().await;
    api.app().clock().advance(DAY + 1);
    let response = api.get("members/", &api.master_token, &[]).await;
    assert_eq!(response.status(), 401);
    assert_eq!(detail(response).await, "Expired token.");
}

#[tokio::test]
async fn members_list_rejects_member_token() {
    let api = ApiSetup::new().await;
    let response = api.get("members/", &api.access_token, &[]).await;
    assert_eq!(response.status(), 401);
    assert_eq!(detail(response).await, "Invalid token.");
}

#[tokio::test]
async fn former_member_token_is_401() {
    let api = ApiSetup::new().await;
    leave(&api).await;
    let response = api.get("exchange-member/", &api.access_token, &[]).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn suspended_member_token_is_401() {
    let api = ApiSetup::new().await;
    sqlx::query("UPDATE members SET is_active = 0 WHERE id = $1")
        .bind(api.setup.member.id)
        .execute(&api.app().state.db.pool)
        .await
        .unwrap();
    let response = api.get("exchange-member/", &api.access_token, &[]).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn get_of_post_endpoints_is_405() {
    let api = ApiSetup::new().await;
    for path in [
        "remove-members/",
        "files/upload/",
        "files/upload/direct/",
        "files/upload/complete/",
        "files/delete/",
    ] {
        let response = api.get(path, &api.master_token, &[]).await;
        assert_eq!(response.status(), 405, "{path}");
        assert_eq!(
            detail(response).await,
            "Method \"GET\" not allowed.",
            "{path}"
        );
    }
}

#[tokio::test]
async fn token_does_not_log_in_to_pages() {
    let api = ApiSetup::new().await;
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(api.app().url("/member/me/data/"))
        .query(&[("access_token", &api.access_token)])
        .bearer_auth(&api.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "a page still requires a login");
}
