//! The public directory of projects, the list of projects in development, each
//! project's public page, and the form members use to write to a project.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::projects::badge_initial;
use crate::app::AppState;
use crate::clock::HOUR;
use crate::db::approvals::{self, Listing};
use crate::db::memberships::{self, Membership};
use crate::db::projects::{self, Project};
use crate::db::rate_limits::Limit;
use crate::domain::forms::{FieldErrors, parse_bool};
use crate::http::badges::badge_path;
use crate::http::error::{PageError, error_page};
use crate::http::form::FormBody;
use crate::http::session::{
    CurrentMember, FlashKind, PageContext, login_redirect, redirect_with_flash, urlencode,
};
use crate::mail::{Email, new_message_id};

/// Projects on one directory page.
const PAGE_SIZE: i64 = 20;

/// Maximum length of a search query, in characters; longer queries are cut.
const MAX_QUERY_CHARS: usize = 100;

/// Maximum length of a message to a project, in characters.
const MAX_MESSAGE_CHARS: usize = 5_000;

/// Maximum length of a message's subject, in characters.
const MAX_SUBJECT_CHARS: usize = 200;

/// A project as the directory lists it.
pub struct DirectoryEntry {
    pub slug: String,
    pub name: String,
    pub organization: String,
    pub kind: &'static str,
    pub short_description: String,
    pub badge_path: Option<String>,
    pub initial: String,
}

impl DirectoryEntry {
    fn new(project: Project) -> Self {
        DirectoryEntry {
            badge_path: project.badge_key.as_deref().map(badge_path),
            initial: badge_initial(&project.config.name),
            kind: kind_label(&project),
            slug: project.slug,
            name: project.config.name,
            organization: project.config.organization,
            short_description: project.config.short_description,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct DirectoryQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "directory/list.html")]
pub struct DirectoryPage {
    ctx: PageContext,
    /// True for the list of projects in development, false for the directory.
    in_development: bool,
    path: &'static str,
    query: String,
    entries: Vec<DirectoryEntry>,
    total: i64,
    page: i64,
    previous_link: Option<String>,
    next_link: Option<String>,
}

/// `GET /activities/?q=&page=`: approved, active projects by name, searchable by
/// name, description and organization.
pub async fn list_activities(
    State(state): State<AppState>,
    ctx: PageContext,
    Query(query): Query<DirectoryQuery>,
) -> Result<DirectoryPage, PageError> {
    directory_page(&state, ctx, query, Listing::Approved, "/activities/").await
}

/// `GET /direct-sharing/in-development/`: active projects not yet approved, which
/// the directory leaves out.
pub async fn list_in_development(
    State(state): State<AppState>,
    ctx: PageContext,
    Query(query): Query<DirectoryQuery>,
) -> Result<DirectoryPage, PageError> {
    directory_page(
        &state,
        ctx,
        query,
        Listing::InDevelopment,
        "/direct-sharing/in-development/",
    )
    .await
}

async fn directory_page(
    state: &AppState,
    ctx: PageContext,
    query: DirectoryQuery,
    listing: Listing,
    path: &'static str,
) -> Result<DirectoryPage, PageError> {
    let search: String = query.q.trim().chars().take(MAX_QUERY_CHARS).collect();
    let page = match query.page.as_deref().map(str::parse::<i64>) {
        None => 1,
        Some(Ok(page)) if page >= 1 => page,
        Some(_) => {
            return Err(PageError::BadRequest(
                "The page number must be a whole number of at least 1.".to_string(),
            ));
        }
    };
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    let (projects, total) =
        approvals::list_directory(&state.db, listing, &search, PAGE_SIZE, offset).await?;
    let link = |page: i64| {
        if search.is_empty() {
            format!("{path}?page={page}")
        } else {
            format!("{path}?q={}&page={page}", urlencode(&search))
        }
    };
    Ok(DirectoryPage {
        ctx,
        in_development: listing == Listing::InDevelopment,
        path,
        entries: projects.into_iter().map(DirectoryEntry::new).collect(),
        total,
        previous_link: (page > 1).then(|| link(page - 1)),
        // The offset of a huge page number saturates, and must not overflow here.
        next_link: (offset.saturating_add(PAGE_SIZE) < total).then(|| link(page + 1)),
        page,
        query: search,
    })
}

/// A data source a project requests, by name.
pub struct SourceName {
    pub name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "directory/activity.html")]
pub struct ActivityPage {
    ctx: PageContext,
    project: Project,
    kind: &'static str,
    badge_path: Option<String>,
    initial: String,
    sources: Vec<SourceName>,
    join_url: String,
    discussion_url: String,
    /// The viewer's active membership, which lets them write to the project.
    membership: Option<Membership>,
    subject: String,
    message: String,
    share_email: bool,
    errors: FieldErrors,
}

/// `GET /activity/<slug>/`: a project's public description, the permissions it
/// requests, and a join button while it is active. Members of the project also see
/// a form to write to its contact address.
pub async fn activity_page(
    State(state): State<AppState>,
    ctx: PageContext,
    viewer: Option<CurrentMember>,
    Path(slug): Path<String>,
) -> Result<ActivityPage, PageError> {
    let project = find_project(&state, &slug).await?;
    let membership = active_membership(&state, &project, viewer.as_ref()).await?;
    render_activity(&state, ctx, project, membership, ContactForm::default()).await
}

/// `POST /activity/<slug>/contact/`: emails the project's contact address for a
/// member with an active membership. The member's email becomes the Reply-To only
/// when they tick `share_email`. Otherwise the email names only their project member
/// id (and their username when they shared it with the project).
pub async fn contact_project(
    State(state): State<AppState>,
    ctx: PageContext,
    viewer: Option<CurrentMember>,
    Path(slug): Path<String>,
    form: FormBody,
) -> Result<Response, PageError> {
    let project = find_project(&state, &slug).await?;
    // The form cannot be posted again after login, so the login page returns to the
    // project's page, where the member can write their message.
    let Some(CurrentMember(member)) = viewer else {
        return Ok(login_redirect(&activity_path(&project.slug)));
    };
    let viewer = CurrentMember(member.clone());
    let Some(membership) = active_membership(&state, &project, Some(&viewer)).await? else {
        return Ok(error_page(
            StatusCode::FORBIDDEN,
            "Members only",
            "Only members of this project can write to it. Join it first.",
            &"contact form posted by a non-member",
        ));
    };
    let share_email =
        parse_bool(form.optional("share_email").unwrap_or_default()).ok_or_else(|| {
            PageError::BadRequest("The field \"share_email\" must be true or false.".to_string())
        })?;
    let contact = ContactForm {
        subject: form
            .optional("subject")
            .unwrap_or_default()
            .trim()
            .to_string(),
        message: form
            .optional("message")
            .unwrap_or_default()
            .trim()
            .to_string(),
        share_email,
    };
    let errors = contact.validate();
    if !errors.is_empty() {
        let mut page = render_activity(&state, ctx, project, Some(membership), contact).await?;
        page.errors = errors;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }

    let now = state.clock.now();
    super::accounts::acquire_limit(
        &state,
        &format!("project-contact:member:{}", member.id),
        Limit {
            max: state.settings.contacts_per_member_per_hour,
            window: HOUR,
        },
        now,
        "You have sent as many messages to projects as this site allows in an hour.",
    )
    .await?;
    let email = contact_email(&state, &project, &membership, &member, &contact);
    crate::jobs::enqueue_email(&state.db.pool, &email, now).await?;
    state.job_signal.notify();
    tracing::info!(
        project.id = project.id,
        member.id = member.id,
        "member wrote to a project"
    );
    Ok(redirect_with_flash(
        &state,
        &activity_path(&project.slug),
        FlashKind::Success,
        "Your message is on its way to the project.",
    ))
}

/// The contact form's fields.
#[derive(Debug, Default)]
struct ContactForm {
    subject: String,
    message: String,
    share_email: bool,
}

impl ContactForm {
    fn validate(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        if self.message.is_empty() {
            errors.add("message", "Write a message.");
        } else if self.message.chars().count() > MAX_MESSAGE_CHARS {
            errors.add(
                "message",
                format!("The message may be at most {MAX_MESSAGE_CHARS} characters."),
            );
        }
        if self.subject.chars().count() > MAX_SUBJECT_CHARS {
            errors.add(
                "subject",
                format!("The subject may be at most {MAX_SUBJECT_CHARS} characters."),
            );
        }
        if self.subject.chars().any(char::is_control) {
            errors.add("subject", "The subject must fit on one line.");
        }
        errors
    }
}

/// Builds the email from a member to a project's contact address.
fn contact_email(
    state: &AppState,
    project: &Project,
    membership: &Membership,
    member: &crate::db::members::Member,
    contact: &ContactForm,
) -> Email {
    let site = &state.settings.site_name;
    let mut sender = format!("Project member id: {}\n", membership.project_member_id);
    if membership.snapshot.username_shared {
        sender.push_str(&format!("Username: {}\n", member.username));
    }
    let reply = if contact.share_email {
        "The member shared their email address: reply to this email to answer them."
    } else {
        "The member did not share their email address. To answer, message them through \
         the project API with their project member id, if they allowed messages."
    };
    let subject = if contact.subject.is_empty() {
        format!("{site}: a member of {} wrote to you", project.config.name)
    } else {
        format!("{site}: {}", contact.subject)
    };
    Email {
        to: project.config.contact_email.clone(),
        from_name: Some(site.clone()),
        reply_to: contact.share_email.then(|| member.email.clone()),
        subject,
        body: format!(
            "A member of {name} wrote to you through {site}.\n\n{sender}\n{message}\n\n\
             --\n{reply}\n",
            name = project.config.name,
            message = contact.message,
        ),
        message_id: new_message_id(&state.settings.mail_from),
    }
}

/// Returns the path of a project's public page.
pub fn activity_path(slug: &str) -> String {
    format!("/activity/{slug}/")
}

fn kind_label(project: &Project) -> &'static str {
    if project.config.is_study {
        "Study"
    } else {
        "Activity"
    }
}

async fn find_project(state: &AppState, slug: &str) -> Result<Project, PageError> {
    projects::find_by_slug(&state.db, slug)
        .await?
        .ok_or(PageError::NotFound)
}

/// Returns the viewer's membership of `project` when it is active.
async fn active_membership(
    state: &AppState,
    project: &Project,
    viewer: Option<&CurrentMember>,
) -> Result<Option<Membership>, PageError> {
    let Some(CurrentMember(member)) = viewer else {
        return Ok(None);
    };
    let mut conn = state.db.pool.acquire().await?;
    let membership = memberships::find(&mut conn, project.id, member.id).await?;
    Ok(membership.filter(|membership| membership.status.is_active(member.is_active)))
}

async fn render_activity(
    state: &AppState,
    ctx: PageContext,
    project: Project,
    membership: Option<Membership>,
    contact: ContactForm,
) -> Result<ActivityPage, PageError> {
    let mut sources = Vec::new();
    for (_, name) in
        crate::db::oauth2::project_names(&state.db, &project.config.requested_sources).await?
    {
        sources.push(SourceName { name });
    }
    let approval = approvals::find(&state.db, &project).await?;
    Ok(ActivityPage {
        ctx,
        kind: kind_label(&project),
        badge_path: project.badge_key.as_deref().map(badge_path),
        initial: badge_initial(&project.config.name),
        sources,
        join_url: format!(
            "/direct-sharing/projects/oauth2/authorize/?client_id={}&response_type=code",
            urlencode(&project.client_id)
        ),
        discussion_url: approval.discussion_url,
        membership,
        subject: contact.subject,
        message: contact.message,
        share_email: contact.share_email,
        errors: FieldErrors::new(),
        project,
    })
}
