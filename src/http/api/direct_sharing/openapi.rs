//! `GET /api/openapi.json`: the OpenAPI description of the project API, generated from
//! the handlers and their response types.

use axum::Json;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{delete, exchange, members, message, project, remove, upload};

/// An error with a single message, such as every 401.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetailResponse {
    pub detail: String,
}

/// The OpenAPI document of the project API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "openhumans project API",
        description = "The Open Humans compatible API for OAuth2 data request projects. \
            Tokens go in the access_token query parameter or an Authorization: Bearer header."
    ),
    paths(
        project::get_project,
        members::list_members,
        exchange::exchange_member,
        remove::remove_members,
        message::message_members,
        upload::upload_file,
        upload::start_direct_upload,
        upload::complete_direct_upload,
        delete::delete_files,
    ),
    components(schemas(DetailResponse)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "project", description = "The project itself"),
        (name = "members", description = "Members and their data"),
        (name = "files", description = "Uploading and deleting files"),
    )
)]
pub struct ApiDoc;

/// Adds the two ways of sending a token: the query parameter and the bearer header.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "access_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("access_token"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Returns the OpenAPI document.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
