//! Badge images: upload, checks and serving.

use reqwest::multipart::Part;

use super::{CREATE_PATH, load, location, png, png_part, post_form, project_count, valid_fields};
use crate::support::{TestApp, fixtures};

#[tokio::test]
async fn png_badge_is_stored_and_served() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let image = png(48, 48);

    let response = post_form(
        &app,
        &client,
        CREATE_PATH,
        &valid_fields("Badged"),
        Some(png_part(image.clone(), "logo.png")),
    )
    .await;

    assert_eq!(response.status(), 303);
    let project = load(&app, "badged").await;
    let key = project.badge_key.expect("a badge key");
    assert!(
        key.starts_with(&format!("badges/{}/", project.id)),
        "the key names the project: {key}"
    );
    let path = format!("/direct-sharing/{key}");
    let detail = client
        .get(app.url(&location(&response)))
        .send()
        .await
        .unwrap();
    let body = detail.text().await.unwrap();
    assert!(body.contains(&format!("class=\"badge-image\" src=\"{path}\"")));

    let served = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(served.bytes().await.unwrap().as_ref(), image.as_slice());

    let elsewhere = app
        .client
        .get(app.url(&format!("/direct-sharing/badges/{}/other.png", project.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);
}

#[tokio::test]
async fn bad_badges_are_field_errors() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let jpeg = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::RgbImage::new(8, 8)
            .write_to(&mut out, image::ImageFormat::Jpeg)
            .unwrap();
        out.into_inner()
    };
    let big = png(860, 860);
    assert!(big.len() > 2 * 1024 * 1024, "the noise image is over 2 MiB");
    let cases = [
        (
            "text named .png",
            png_part(b"plain text, not an image".to_vec(), "logo.png"),
            "is not a PNG image",
        ),
        (
            "SVG",
            Part::bytes(svg.to_vec())
                .file_name("logo.svg")
                .mime_str("image/svg+xml")
                .unwrap(),
            "must be a PNG, JPEG or WebP file",
        ),
        (
            "SVG named .png",
            png_part(svg.to_vec(), "logo.png"),
            "is not a PNG image",
        ),
        (
            "JPEG named .png",
            png_part(jpeg, "logo.png"),
            "contains a JPG image",
        ),
        (
            "2 MiB PNG",
            png_part(big, "big.png"),
            "must be at most 1 MiB",
        ),
    ];

    for (case, part, expected) in cases {
        let response = post_form(
            &app,
            &client,
            CREATE_PATH,
            &valid_fields("Kept Name"),
            Some(part),
        )
        .await;

        assert_eq!(response.status(), 422, "{case}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("id=\"badge-error\">Badge image"),
            "{case}: field error"
        );
        assert!(body.contains(expected), "{case}: {expected}");
        assert!(body.contains("choose the badge image again"), "{case}");
        assert!(body.contains("value=\"Kept Name\""), "{case}: values kept");
    }
    assert_eq!(project_count(&app).await, 0, "no project was created");
}

#[tokio::test]
async fn replaced_badge_deletes_old_file() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    post_form(
        &app,
        &client,
        CREATE_PATH,
        &valid_fields("Rebadged"),
        Some(png_part(png(16, 16), "one.png")),
    )
    .await;
    let old_key = load(&app, "rebadged").await.badge_key.unwrap();
    let update = "/direct-sharing/projects/oauth2/update/rebadged/";

    let response = post_form(
        &app,
        &client,
        update,
        &valid_fields("Rebadged"),
        Some(png_part(png(16, 16), "two.png")),
    )
    .await;

    assert_eq!(response.status(), 303);
    let new_key = load(&app, "rebadged").await.badge_key.unwrap();
    assert_ne!(new_key, old_key);
    assert!(app.state.storage.get(&old_key).await.unwrap().is_none());
    assert!(app.state.storage.get(&new_key).await.unwrap().is_some());
    let old = app
        .client
        .get(app.url(&format!("/direct-sharing/{old_key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 404);

    let mut fields = valid_fields("Rebadged");
    fields.push(("remove_badge", "true".to_string()));
    let response = post_form(&app, &client, update, &fields, None).await;
    assert_eq!(response.status(), 303);
    assert_eq!(load(&app, "rebadged").await.badge_key, None);
    assert!(app.state.storage.get(&new_key).await.unwrap().is_none());
}

#[tokio::test]
async fn malformed_badge_paths_are_404_pages() {
    let app = TestApp::spawn().await;

    for path in [
        "/direct-sharing/badges/abc/x.png",
        "/direct-sharing/badges/99999999999999999999/x.png",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();

        assert_eq!(response.status(), 404, "{path}");
        let body = response.text().await.unwrap();
        assert!(body.contains("Page not found"), "{path}: {body}");
    }
}
