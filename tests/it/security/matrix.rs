//! Every route the server registers, called by every kind of caller, with the exact
//! status each must get and the security headers every response must carry.
//!
//! The rows run in order, and each cell gets a new session, so a cell that logs out
//! spoils nothing that a later cell needs. A successful cell that ends a membership or
//! replaces the master token is followed by a check of that effect and a restore.

use openhumans::db::files;
use reqwest::Method;

use super::coverage::check_coverage;
use super::headers::header_problems;
use super::world::{CALLERS, Caller, Credential, World};

/// The status a cell must get. `Login` is a 303 to the login page, and `Status(303)`
/// is a redirect anywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Status(u16),
    Login,
}

const LOGIN: Expect = Expect::Login;
const OK: Expect = Expect::Status(200);
const CREATED: Expect = Expect::Status(201);
const SEE_OTHER: Expect = Expect::Status(303);
const BAD_REQUEST: Expect = Expect::Status(400);
const UNAUTHORIZED: Expect = Expect::Status(401);
const FORBIDDEN: Expect = Expect::Status(403);
const NOT_FOUND: Expect = Expect::Status(404);

/// How the fixture is restored after each successful cell of a row that changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restore {
    Nothing,
    Rejoin,
    MasterToken,
}

/// One route and method: the path it is called with, the form it sends and the status
/// of each caller, in the order of [`CALLERS`].
pub struct Row {
    pub method: Method,
    pub pattern: &'static str,
    pub path: String,
    form: Vec<(&'static str, String)>,
    expect: [Expect; 12],
    restore: Restore,
}

fn get(pattern: &'static str, path: impl Into<String>) -> Row {
    Row::new(Method::GET, pattern, path.into())
}

fn post(pattern: &'static str, path: impl Into<String>) -> Row {
    Row::new(Method::POST, pattern, path.into())
}

impl Row {
    /// Starts a row. A call of `everyone`, `page` or `api` then sets its statuses.
    fn new(method: Method, pattern: &'static str, path: String) -> Row {
        Row {
            method,
            pattern,
            path,
            form: Vec::new(),
            expect: [NOT_FOUND; 12],
            restore: Restore::Nothing,
        }
    }

    /// Sets the same status for every caller.
    fn everyone(mut self, expect: Expect) -> Row {
        self.expect = [expect; 12];
        self
    }

    /// Sets the statuses of a page, in the columns anonymous, other member, member, coordinator, other
    /// coordinator and admin. Pages ignore tokens, so token callers get what an
    /// anonymous visitor gets.
    fn page(mut self, sessions: [Expect; 6]) -> Row {
        self.expect[..6].copy_from_slice(&sessions);
        self.expect[6..].fill(sessions[0]);
        self
    }

    /// Sets the statuses of an API route, in the columns member token, other project's member token,
    /// expired token, former member's token, master token and other project's master
    /// token. The API ignores sessions, so session callers get 401.
    fn api(mut self, tokens: [Expect; 6]) -> Row {
        self.expect[..6].fill(UNAUTHORIZED);
        self.expect[6..].copy_from_slice(&tokens);
        self
    }

    fn form(mut self, fields: &[(&'static str, &str)]) -> Row {
        self.form = fields
            .iter()
            .map(|(name, value)| (*name, value.to_string()))
            .collect();
        self
    }

    fn restore(mut self, restore: Restore) -> Row {
        self.restore = restore;
        self
    }

    /// Returns the methods the row's cells are sent with. axum runs the GET handler for
    /// HEAD requests, so a GET row covers HEAD too.
    pub fn methods(&self) -> Vec<Method> {
        if self.method == Method::GET {
            vec![Method::GET, Method::HEAD]
        } else {
            vec![self.method.clone()]
        }
    }
}

/// Lists the matrix's rows. Rows that change what later rows rely on come last.
fn rows(world: &World) -> Vec<Row> {
    let slug = &world.project().slug;
    let reviewed_slug = &world.reviewed_project.slug;
    let project_id = world.project().id;
    // Only approved projects are public.
    let approved_project_id = world.other_project.id;
    let pmid = world.pmid();
    let file_id = world.file_id;
    let api_file_id = world.api_file_id;
    let datatype_id = world.datatype_id;
    let reviewed_member = world.reviewed_member.id;
    let client_id = &world.project().client_id;
    let authorize = format!("client_id={client_id}&response_type=code");
    let manage = |tail: &str| format!("/direct-sharing/projects/oauth2/{slug}/{tail}");
    let admin = |tail: &str| format!("/admin/approvals/{reviewed_slug}/{tail}");
    let message = [
        ("project_member_ids", pmid),
        ("subject", "Weekly update"),
        ("message", "Thank you for sharing your steps."),
        ("action", "send"),
    ];

    vec![
        // Operations and static assets.
        get("/healthz", "/healthz").everyone(OK),
        get("/metrics", "/metrics").everyone(OK),
        get("/static/site.css", "/static/site.css").everyone(OK),
        get("/static/favicon.svg", "/static/favicon.svg").everyone(OK),
        // Public pages.
        get("/", "/").everyone(OK),
        get("/activities/", "/activities/").everyone(OK),
        get(
            "/direct-sharing/in-development/",
            "/direct-sharing/in-development/",
        )
        .everyone(OK),
        get("/activity/{slug}/", format!("/activity/{slug}/")).everyone(OK),
        post(
            "/activity/{slug}/contact/",
            format!("/activity/{slug}/contact/"),
        )
        .form(&message[1..3])
        .page([LOGIN, FORBIDDEN, SEE_OTHER, FORBIDDEN, FORBIDDEN, FORBIDDEN]),
        get(
            "/direct-sharing/badges/{project_id}/{file}",
            world.badge_path.clone(),
        )
        .everyone(OK),
        get(
            "/api/public/project/{id}/",
            format!("/api/public/project/{approved_project_id}/"),
        )
        .everyone(OK),
        get(
            "/api/public/datatype/{id}/",
            format!("/api/public/datatype/{datatype_id}/"),
        )
        .everyone(OK),
        get("/api/openapi.json", "/api/openapi.json").everyone(OK),
        get(
            "/.well-known/oauth-authorization-server",
            "/.well-known/oauth-authorization-server",
        )
        .everyone(OK),
        get("/data-management/datatypes/", "/data-management/datatypes/").everyone(OK),
        get(
            "/data-management/datatypes/{id}/",
            format!("/data-management/datatypes/{datatype_id}/"),
        )
        .everyone(OK),
        // Accounts.
        get("/account/signup/", "/account/signup/").everyone(OK),
        post("/account/signup/", "/account/signup/").everyone(BAD_REQUEST),
        get("/account/confirm-email/", "/account/confirm-email/").everyone(OK),
        get(
            "/account/confirm-email/{token}/",
            "/account/confirm-email/not-a-token/",
        )
        .everyone(NOT_FOUND),
        post("/account/email/resend/", "/account/email/resend/")
            .page([LOGIN, SEE_OTHER, SEE_OTHER, SEE_OTHER, SEE_OTHER, SEE_OTHER]),
        get("/account/login/", "/account/login/").everyone(OK),
        post("/account/login/", "/account/login/").everyone(BAD_REQUEST),
        get("/account/logout/", "/account/logout/").everyone(OK),
        post("/account/logout/", "/account/logout/").everyone(SEE_OTHER),
        get("/account/password/change/", "/account/password/change/")
            .page([LOGIN, OK, OK, OK, OK, OK]),
        post("/account/password/change/", "/account/password/change/").page([
            LOGIN,
            BAD_REQUEST,
            BAD_REQUEST,
            BAD_REQUEST,
            BAD_REQUEST,
            BAD_REQUEST,
        ]),
        get("/account/delete/", "/account/delete/").page([LOGIN, OK, OK, OK, OK, OK]),
        post("/account/delete/", "/account/delete/").page([
            LOGIN,
            BAD_REQUEST,
            BAD_REQUEST,
            BAD_REQUEST,
            BAD_REQUEST,
            BAD_REQUEST,
        ]),
        get("/account/password/reset/", "/account/password/reset/").everyone(OK),
        post("/account/password/reset/", "/account/password/reset/").everyone(BAD_REQUEST),
        get(
            "/account/password/reset/key/{token}/",
            "/account/password/reset/key/not-a-token/",
        )
        .everyone(NOT_FOUND),
        post(
            "/account/password/reset/key/{token}/",
            "/account/password/reset/key/not-a-token/",
        )
        .form(&[
            ("new_password", "a new and long passphrase"),
            ("new_password_confirmation", "a new and long passphrase"),
        ])
        .everyone(NOT_FOUND),
        // The member's own pages.
        get("/member/me/connections/", "/member/me/connections/").page([LOGIN, OK, OK, OK, OK, OK]),
        get("/member/me/data/", "/member/me/data/").page([LOGIN, OK, OK, OK, OK, OK]),
        get("/member/me/messages/", "/member/me/messages/").page([LOGIN, OK, OK, OK, OK, OK]),
        get("/member/me/access-log/", "/member/me/access-log/").page([LOGIN, OK, OK, OK, OK, OK]),
        get("/member/me/agreements/", "/member/me/agreements/").page([LOGIN, OK, OK, OK, OK, OK]),
        get("/member/me/export/", "/member/me/export/").page([LOGIN, OK, OK, OK, OK, OK]),
        get("/member/me/export/download/", "/member/me/export/download/")
            .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
        get(
            "/member/me/data/files/{file_id}/delete/",
            format!("/member/me/data/files/{file_id}/delete/"),
        )
        .page([LOGIN, NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
        get(
            "/member/me/data/sources/{project_id}/delete/",
            format!("/member/me/data/sources/{project_id}/delete/"),
        )
        .page([LOGIN, NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
        get(
            "/member/me/connections/{project_member_id}/leave/",
            format!("/member/me/connections/{pmid}/leave/"),
        )
        .page([LOGIN, NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
        // Project management.
        get(
            "/direct-sharing/projects/manage/",
            "/direct-sharing/projects/manage/",
        )
        .page([LOGIN, OK, OK, OK, OK, OK]),
        get(
            "/direct-sharing/projects/oauth2/create/",
            "/direct-sharing/projects/oauth2/create/",
        )
        .page([LOGIN, OK, OK, OK, OK, OK]),
        post(
            "/direct-sharing/projects/oauth2/create/",
            "/direct-sharing/projects/oauth2/create/",
        )
        .page([
            LOGIN,
            BAD_REQUEST,
            BAD_REQUEST,
            BAD_REQUEST,
            BAD_REQUEST,
            BAD_REQUEST,
        ]),
        get(
            "/direct-sharing/projects/oauth2/update/{slug}/",
            format!("/direct-sharing/projects/oauth2/update/{slug}/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, OK]),
        post(
            "/direct-sharing/projects/oauth2/update/{slug}/",
            format!("/direct-sharing/projects/oauth2/update/{slug}/"),
        )
        .page([
            LOGIN,
            NOT_FOUND,
            NOT_FOUND,
            BAD_REQUEST,
            NOT_FOUND,
            BAD_REQUEST,
        ]),
        get("/direct-sharing/projects/oauth2/{slug}/", manage(""))
            .page([LOGIN, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, OK]),
        get(
            "/direct-sharing/projects/oauth2/{slug}/approval/",
            manage("approval/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, OK]),
        // Only the coordinator may ask for approval, and an admin is sent back with a message.
        post(
            "/direct-sharing/projects/oauth2/{slug}/approval/",
            manage("approval/"),
        )
        .page([
            LOGIN,
            NOT_FOUND,
            NOT_FOUND,
            BAD_REQUEST,
            NOT_FOUND,
            SEE_OTHER,
        ]),
        get(
            "/direct-sharing/projects/oauth2/{slug}/approval/document/",
            manage("approval/document/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, OK]),
        get(
            "/direct-sharing/projects/oauth2/{slug}/withdrawn/",
            manage("withdrawn/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, OK]),
        get(
            "/direct-sharing/projects/oauth2/{slug}/remove-members/",
            manage("remove-members/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, OK]),
        // Messages go out in the project's name, so only its coordinator may send them.
        get(
            "/direct-sharing/projects/oauth2/{slug}/message/",
            manage("message/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, NOT_FOUND]),
        post(
            "/direct-sharing/projects/oauth2/{slug}/message/",
            manage("message/"),
        )
        .form(&message)
        .page([LOGIN, NOT_FOUND, NOT_FOUND, SEE_OTHER, NOT_FOUND, NOT_FOUND]),
        get(
            "/direct-sharing/projects/oauth2/{slug}/webhooks/",
            manage("webhooks/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, OK]),
        post(
            "/direct-sharing/projects/oauth2/{slug}/webhooks/{delivery_id}/redeliver/",
            manage(&format!("webhooks/{}/redeliver/", world.delivery_id)),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, SEE_OTHER, NOT_FOUND, SEE_OTHER]),
        // Site admin pages.
        get("/admin/approvals/", "/admin/approvals/")
            .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK]),
        get("/admin/approvals/{slug}/", admin(""))
            .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK]),
        post("/admin/approvals/{slug}/decide/", admin("decide/")).page([
            LOGIN,
            NOT_FOUND,
            NOT_FOUND,
            NOT_FOUND,
            NOT_FOUND,
            BAD_REQUEST,
        ]),
        post(
            "/admin/approvals/{slug}/remove-approval/",
            admin("remove-approval/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, SEE_OTHER]),
        post("/admin/approvals/{slug}/deactivate/", admin("deactivate/"))
            .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, SEE_OTHER]),
        post("/admin/approvals/{slug}/reactivate/", admin("reactivate/"))
            .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, SEE_OTHER]),
        get("/admin/members/", "/admin/members/")
            .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK]),
        post(
            "/admin/members/{member_id}/suspend/",
            format!("/admin/members/{reviewed_member}/suspend/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, SEE_OTHER]),
        post(
            "/admin/members/{member_id}/unsuspend/",
            format!("/admin/members/{reviewed_member}/unsuspend/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, SEE_OTHER]),
        get(
            "/data-management/datatypes/create/",
            "/data-management/datatypes/create/",
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK]),
        post(
            "/data-management/datatypes/create/",
            "/data-management/datatypes/create/",
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK]),
        get(
            "/data-management/datatypes/update/{id}/",
            format!("/data-management/datatypes/update/{datatype_id}/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK]),
        post(
            "/data-management/datatypes/update/{id}/",
            format!("/data-management/datatypes/update/{datatype_id}/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK]),
        // OAuth2.
        get(
            "/direct-sharing/projects/oauth2/authorize/",
            format!("/direct-sharing/projects/oauth2/authorize/?{authorize}"),
        )
        .page([LOGIN, OK, SEE_OTHER, OK, OK, OK]),
        post(
            "/direct-sharing/projects/oauth2/authorize/",
            "/direct-sharing/projects/oauth2/authorize/",
        )
        .everyone(BAD_REQUEST),
        get(
            "/oauth2/authorize/",
            format!("/oauth2/authorize/?{authorize}"),
        )
        .page([LOGIN, OK, SEE_OTHER, OK, OK, OK]),
        post("/oauth2/authorize/", "/oauth2/authorize/").everyone(BAD_REQUEST),
        // Both endpoints authenticate the client, which none of these callers is.
        post("/oauth2/token/", "/oauth2/token/").everyone(UNAUTHORIZED),
        post("/oauth2/revoke_token/", "/oauth2/revoke_token/").everyone(UNAUTHORIZED),
        // The project API. A member token always acts for its own membership, whatever
        // project_member_id the request names, so the other project's member token only
        // reaches the member's data in that other project.
        get(
            "/api/direct-sharing/project/",
            "/api/direct-sharing/project/",
        )
        .api([OK, OK, UNAUTHORIZED, UNAUTHORIZED, OK, OK]),
        get(
            "/api/direct-sharing/project/members/",
            "/api/direct-sharing/project/members/",
        )
        .api([
            UNAUTHORIZED,
            UNAUTHORIZED,
            UNAUTHORIZED,
            UNAUTHORIZED,
            OK,
            OK,
        ]),
        get(
            "/api/direct-sharing/project/exchange-member/",
            format!("/api/direct-sharing/project/exchange-member/?project_member_id={pmid}"),
        )
        .api([OK, OK, UNAUTHORIZED, UNAUTHORIZED, OK, BAD_REQUEST]),
        post(
            "/api/direct-sharing/project/message/",
            "/api/direct-sharing/project/message/",
        )
        .form(&message[..3])
        .api([OK, OK, UNAUTHORIZED, UNAUTHORIZED, OK, BAD_REQUEST]),
        post(
            "/api/direct-sharing/project/files/upload/",
            "/api/direct-sharing/project/files/upload/",
        )
        .api([
            BAD_REQUEST,
            BAD_REQUEST,
            UNAUTHORIZED,
            UNAUTHORIZED,
            BAD_REQUEST,
            BAD_REQUEST,
        ]),
        post(
            "/api/direct-sharing/project/files/upload/direct/",
            "/api/direct-sharing/project/files/upload/direct/",
        )
        .form(&[
            ("project_member_id", pmid),
            ("filename", "sleep.csv"),
            ("metadata", crate::api::METADATA),
        ])
        .api([
            CREATED,
            CREATED,
            UNAUTHORIZED,
            UNAUTHORIZED,
            CREATED,
            BAD_REQUEST,
        ]),
        post(
            "/api/direct-sharing/project/files/upload/complete/",
            "/api/direct-sharing/project/files/upload/complete/",
        )
        .form(&[("project_member_id", pmid), ("file_id", "0")])
        .api([
            BAD_REQUEST,
            BAD_REQUEST,
            UNAUTHORIZED,
            UNAUTHORIZED,
            BAD_REQUEST,
            BAD_REQUEST,
        ]),
        // Signed URLs: the URL is the credential, so every caller gets the same.
        get("/download/{token}/", world.download_path.clone()).everyone(OK),
        Row::new(
            Method::PUT,
            "/upload/{token}/",
            "/upload/not-a-token/".to_string(),
        )
        .everyone(FORBIDDEN),
        // Cells from here on change the fixture, and the rows restore it.
        post(
            "/api/direct-sharing/project/files/delete/",
            "/api/direct-sharing/project/files/delete/",
        )
        .form(&[
            ("project_member_id", pmid),
            ("file_id", &api_file_id.to_string()),
        ])
        .api([OK, OK, UNAUTHORIZED, UNAUTHORIZED, OK, BAD_REQUEST]),
        post(
            "/member/me/data/files/{file_id}/delete/",
            format!("/member/me/data/files/{file_id}/delete/"),
        )
        .page([LOGIN, NOT_FOUND, SEE_OTHER, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
        post(
            "/member/me/data/sources/{project_id}/delete/",
            format!("/member/me/data/sources/{project_id}/delete/"),
        )
        .page([LOGIN, NOT_FOUND, SEE_OTHER, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
        post("/member/me/export/", "/member/me/export/")
            .page([LOGIN, SEE_OTHER, SEE_OTHER, SEE_OTHER, SEE_OTHER, SEE_OTHER]),
        post(
            "/member/me/connections/{project_member_id}/leave/",
            format!("/member/me/connections/{pmid}/leave/"),
        )
        .page([LOGIN, NOT_FOUND, SEE_OTHER, NOT_FOUND, NOT_FOUND, NOT_FOUND])
        .restore(Restore::Rejoin),
        post(
            "/api/direct-sharing/project/remove-members/",
            "/api/direct-sharing/project/remove-members/",
        )
        .form(&[("project_member_ids", pmid)])
        .api([OK, OK, UNAUTHORIZED, UNAUTHORIZED, OK, BAD_REQUEST])
        .restore(Restore::Rejoin),
        post(
            "/direct-sharing/projects/oauth2/{slug}/remove-members/",
            manage("remove-members/"),
        )
        .form(&[("project_member_ids", pmid)])
        .page([LOGIN, NOT_FOUND, NOT_FOUND, SEE_OTHER, NOT_FOUND, SEE_OTHER])
        .restore(Restore::Rejoin),
        post(
            "/direct-sharing/projects/oauth2/{slug}/master-token/",
            manage("master-token/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, SEE_OTHER, NOT_FOUND, SEE_OTHER])
        .restore(Restore::MasterToken),
        // Rotating the secret comes last: the consent flow that restores memberships
        // exchanges codes with the original secret.
        post(
            "/direct-sharing/projects/oauth2/{slug}/rotate-secret/",
            manage("rotate-secret/"),
        )
        .page([LOGIN, NOT_FOUND, NOT_FOUND, SEE_OTHER, NOT_FOUND, SEE_OTHER]),
    ]
}

#[tokio::test]
async fn every_route_answers_every_caller_as_listed() {
    let mut world = World::build().await;
    let table = rows(&world);
    check_coverage(&world, &table).await;

    let mut mismatches = Vec::new();
    let mut cells = 0;
    for row in &table {
        for method in row.methods() {
            for (column, caller) in CALLERS.into_iter().enumerate() {
                cells += 1;
                let response = send(&world, row, &method, caller).await;
                if is_success(&response) {
                    match row.restore {
                        Restore::Nothing => {}
                        Restore::Rejoin => world.rejoin().await,
                        Restore::MasterToken => world.reissue_master_token().await,
                    }
                }

                let cell = format!("{method} {} as {caller:?}", row.pattern);
                let expected = row.expect[column];
                if !matches_expectation(&response, expected) {
                    mismatches.push(format!(
                        "{cell}: expected {expected:?}, got {}",
                        describe(&response)
                    ));
                }
                for problem in header_problems(row.pattern, response.headers()) {
                    mismatches.push(format!("{cell}: {problem}"));
                }
            }
        }
    }

    for file_id in [world.file_id, world.api_file_id, world.source_file_id] {
        let file = files::find_by_id(&world.app().state.db, file_id)
            .await
            .unwrap();
        assert!(
            file.is_none(),
            "file {file_id} is still there after its delete cells"
        );
    }
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Sends the row's request with `method` as `caller`. Browsers mark form posts
/// same-origin as a browser would, and token callers send `Authorization: Bearer`.
async fn send(world: &World, row: &Row, method: &Method, caller: Caller) -> reqwest::Response {
    let client = world.client(caller).await;
    let mut request = client.request(method.clone(), world.app().url(&row.path));
    match world.credential(caller) {
        Credential::Bearer(token) => request = request.bearer_auth(token),
        Credential::None | Credential::Session(_) => {
            request = request.header("sec-fetch-site", "same-origin");
        }
    }
    if *method == Method::PUT {
        request = request.body("date,steps\n");
    } else if *method == Method::POST {
        request = request.form(&row.form);
    }
    request.send().await.unwrap()
}

/// Returns whether the request did what it asked: a 2xx, or a 303 anywhere but the login page.
fn is_success(response: &reqwest::Response) -> bool {
    response.status().is_success() || matches_expectation(response, SEE_OTHER)
}

fn matches_expectation(response: &reqwest::Response, expected: Expect) -> bool {
    let to_login = location(response).is_some_and(|to| to.starts_with("/account/login/"));
    match expected {
        Expect::Login => response.status() == 303 && to_login,
        Expect::Status(303) => response.status() == 303 && !to_login,
        Expect::Status(status) => response.status() == status,
    }
}

fn location(response: &reqwest::Response) -> Option<&str> {
    response.headers().get("location")?.to_str().ok()
}

fn describe(response: &reqwest::Response) -> String {
    match location(response) {
        Some(to) => format!("{} to {to}", response.status().as_u16()),
        None => response.status().as_u16().to_string(),
    }
}
