//! The front page.

use askama::Template;
use askama_web::WebTemplate;

use crate::http::session::PageContext;

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub struct HomePage {
    ctx: PageContext,
}

/// `GET /`: what the site is, with next steps for visitors and members.
pub async fn home_page(ctx: PageContext) -> HomePage {
    HomePage { ctx }
}
