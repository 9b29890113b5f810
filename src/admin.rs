//! Operator commands (`openhumans admin …`), printing JSON for automation.
//!
//! Each command prints one JSON object on standard output and exits 0. A rejected
//! input prints `{"error": …, "fields": {…}}` on standard error and exits 1, with the
//! same field messages as the web forms. Unexpected failures (the database is down,
//! say) print `error: …` on standard error and exit 1.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::db::approvals::{self, Actor};
use crate::db::members::{self, CreateMemberError, NewMember};
use crate::db::projects;
use crate::domain::approval::ApprovalAction;
use crate::domain::forms::FieldErrors;
use crate::domain::member::{validate_email, validate_username};
use crate::domain::project::{ProjectInput, validate};

/// Environment variable that carries the password of `create-member`.
pub const PASSWORD_VARIABLE: &str = "OPENHUMANS_PASSWORD";

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a member account. The password is read from the OPENHUMANS_PASSWORD
    /// environment variable, or else from the first line of standard input.
    CreateMember {
        /// 3 to 30 ASCII letters, digits or underscores, unique ignoring case.
        #[arg(long)]
        username: String,
        /// Email address, unique ignoring case.
        #[arg(long)]
        email: String,
        /// Make the member a site admin.
        #[arg(long)]
        admin: bool,
        /// Mark the email address as verified.
        #[arg(long)]
        verified: bool,
    },
    /// Create an OAuth2 project from a JSON file whose keys are those of the project
    /// API, and print its credentials, which are shown only this once.
    CreateProject {
        /// Username (or email address) of the member who will coordinate the project.
        #[arg(long)]
        coordinator: String,
        /// Path of the JSON file with the project's fields.
        #[arg(long)]
        json: PathBuf,
    },
    /// Approve a project, lifting the limit on unapproved projects' members.
    ApproveProject {
        /// The project's slug, as in its URLs.
        slug: String,
    },
}

/// Why a command did not run: a message and, for invalid input, one message per field.
#[derive(Debug)]
struct Rejection {
    message: String,
    fields: FieldErrors,
}

impl Rejection {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            fields: FieldErrors::new(),
        }
    }

    fn invalid(message: impl Into<String>, fields: FieldErrors) -> Self {
        Self {
            message: message.into(),
            fields,
        }
    }

    fn to_json(&self) -> Value {
        let fields: BTreeMap<&str, &str> = self.fields.iter().collect();
        if fields.is_empty() {
            json!({ "error": self.message })
        } else {
            json!({ "error": self.message, "fields": fields })
        }
    }
}

type CommandResult = anyhow::Result<Result<Value, Rejection>>;

/// Runs one admin command, printing its result as JSON on standard output.
pub async fn run(state: &AppState, command: AdminCommand) -> anyhow::Result<ExitCode> {
    let result = match command {
        AdminCommand::CreateMember {
            username,
            email,
            admin,
            verified,
        } => create_member(state, &username, &email, admin, verified).await?,
        AdminCommand::CreateProject { coordinator, json } => {
            create_project(state, &coordinator, &json).await?
        }
        AdminCommand::ApproveProject { slug } => approve_project(state, &slug).await?,
    };
    match result {
        Ok(output) => {
            println!("{output}");
            Ok(ExitCode::SUCCESS)
        }
        Err(rejection) => {
            eprintln!("{}", rejection.to_json());
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn create_member(
    state: &AppState,
    username: &str,
    email: &str,
    is_admin: bool,
    email_verified: bool,
) -> CommandResult {
    let password = match read_password() {
        Ok(password) => password,
        Err(message) => return Ok(Err(Rejection::new(message))),
    };

    let mut errors = FieldErrors::new();
    if let Err(message) = validate_username(username) {
        errors.add("username", message);
    }
    let email = email.trim();
    if let Err(message) = validate_email(email) {
        errors.add("email", message);
    }
    if let Err(message) = crate::domain::password::validate(&password, username) {
        errors.add("password", message);
    }
    if !errors.is_empty() {
        return Ok(Err(Rejection::invalid("invalid member", errors)));
    }

    let password_hash = crate::domain::password::hash(&password);
    let new = NewMember {
        username,
        email,
        password_hash: &password_hash,
        is_admin,
        email_verified,
    };
    let id = match members::insert(&state.db, &new, state.clock.now()).await {
        Ok(id) => id,
        Err(CreateMemberError::UsernameTaken) => {
            errors.add(
                "username",
                format!("Username {username:?} is already taken (ignoring case)."),
            );
            return Ok(Err(Rejection::invalid("invalid member", errors)));
        }
        Err(CreateMemberError::EmailTaken) => {
            errors.add(
                "email",
                format!("An account with the email address {email:?} already exists."),
            );
            return Ok(Err(Rejection::invalid("invalid member", errors)));
        }
        Err(CreateMemberError::Database(error)) => {
            return Err(anyhow::Error::new(error).context("inserting the member"));
        }
    };
    tracing::info!(member.id = id, is_admin, "member created by an operator");
    Ok(Ok(json!({
        "id": id,
        "username": username,
        "email": email,
        "is_admin": is_admin,
        "email_verified": email_verified,
    })))
}

/// Reads the new member's password from [`PASSWORD_VARIABLE`] or, when it is unset,
/// from the first line of standard input, without its line ending.
fn read_password() -> Result<String, String> {
    if let Ok(password) = std::env::var(PASSWORD_VARIABLE) {
        return Ok(password);
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprint!("Password for the new member (or set {PASSWORD_VARIABLE}): ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| format!("reading the password from standard input failed: {error}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err(format!(
            "missing password: set {PASSWORD_VARIABLE} or write the password as the first \
             line of standard input"
        ));
    }
    Ok(password)
}

/// A project as the JSON file describes it, with the project API's key names. Every
/// key is optional here so that a missing one gets the validator's message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectFile {
    name: Option<String>,
    leader: Option<String>,
    contact_email: Option<String>,
    info_url: Option<String>,
    short_description: Option<String>,
    is_study: Option<bool>,
    is_academic_or_nonprofit: Option<bool>,
    request_username_access: Option<bool>,
    request_message_permission: Option<bool>,
    enrollment_url: Option<String>,
    terms_url: Option<String>,
    redirect_url: Option<RedirectUrls>,
    organization: Option<String>,
    long_description: Option<String>,
    returned_data_description: Option<String>,
    active: Option<bool>,
    approved: Option<bool>,
    requested_sources: Option<Vec<String>>,
    erasure_supported: Option<bool>,
    deauth_email_notification: Option<bool>,
    deauth_webhook: Option<String>,
    webhook_secret: Option<String>,
    require_pkce: Option<bool>,
}

/// Redirect URIs as one whitespace-separated string or as an array of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RedirectUrls {
    Joined(String),
    List(Vec<String>),
}

impl ProjectFile {
    /// Converts the file into form input. `source_ids` replaces the slugs of
    /// `requested_sources`.
    fn into_input(self, source_ids: Vec<String>) -> ProjectInput {
        let flag = |value: Option<bool>| value.map(|flag| flag.to_string()).unwrap_or_default();
        ProjectInput {
            is_study: flag(self.is_study),
            name: self.name.unwrap_or_default(),
            leader: self.leader.unwrap_or_default(),
            organization: self.organization.unwrap_or_default(),
            is_academic_or_nonprofit: flag(self.is_academic_or_nonprofit),
            contact_email: self.contact_email.unwrap_or_default(),
            info_url: self.info_url.unwrap_or_default(),
            short_description: self.short_description.unwrap_or_default(),
            long_description: self.long_description.unwrap_or_default(),
            returned_data_description: self.returned_data_description.unwrap_or_default(),
            active: flag(self.active),
            request_message_permission: flag(self.request_message_permission),
            request_username_access: flag(self.request_username_access),
            enrollment_url: self.enrollment_url.unwrap_or_default(),
            terms_url: self.terms_url.unwrap_or_default(),
            redirect_url: match self.redirect_url {
                Some(RedirectUrls::Joined(uris)) => uris,
                Some(RedirectUrls::List(uris)) => uris.join(" "),
                None => String::new(),
            },
            deauth_webhook: self.deauth_webhook.unwrap_or_default(),
            webhook_secret: self.webhook_secret.unwrap_or_default(),
            erasure_supported: flag(self.erasure_supported),
            deauth_email_notification: flag(self.deauth_email_notification),
            require_pkce: flag(self.require_pkce),
            requested_sources: source_ids,
        }
    }
}

async fn create_project(state: &AppState, coordinator: &str, path: &Path) -> CommandResult {
    let Some(member) = members::find_by_login(&state.db, coordinator).await? else {
        return Ok(Err(Rejection::new(format!(
            "coordinator not found: no member has the username or email address {coordinator:?}"
        ))));
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            return Ok(Err(Rejection::new(format!(
                "reading {} failed: {error}",
                path.display()
            ))));
        }
    };
    let file: ProjectFile = match serde_json::from_str(&text) {
        Ok(file) => file,
        Err(error) => {
            return Ok(Err(Rejection::new(format!(
                "invalid project JSON in {}: {error}",
                path.display()
            ))));
        }
    };
    let approved = file.approved.unwrap_or(false);

    // Sources are named by slug in the file; the validator checks their ids against
    // the projects that may be requested.
    let mut slug_errors = FieldErrors::new();
    let mut source_ids = Vec::new();
    for slug in file.requested_sources.clone().unwrap_or_default() {
        match projects::find_by_slug(&state.db, &slug).await? {
            Some(source) => source_ids.push(source.id.to_string()),
            None => slug_errors.add(
                "requested_sources",
                format!("Requested data sources: no project has the slug {slug:?}."),
            ),
        }
    }
    let eligible: Vec<i64> = projects::list_data_sources(&state.db, None)
        .await?
        .iter()
        .map(|source| source.id)
        .collect();
    let input = file.into_input(source_ids);
    let allow_private = state.settings.allow_private_webhooks;
    let mut validated = validate(&input, &eligible, allow_private);
    if let Ok(config) = &validated
        && let Some(errors) =
            crate::http::pages::projects::form::check_webhook_resolution(config, allow_private)
                .await
    {
        validated = Err(errors);
    }
    let config = match (validated, slug_errors.is_empty()) {
        (Ok(config), true) => config,
        (Ok(_), false) => return Ok(Err(Rejection::invalid("invalid project", slug_errors))),
        (Err(mut errors), _) => {
            for (field, message) in slug_errors.iter() {
                errors.add(field, message);
            }
            return Ok(Err(Rejection::invalid("invalid project", errors)));
        }
    };

    let now = state.clock.now();
    let created = projects::insert(&state.db, &state.key, member.id, &config, now).await?;
    if approved {
        projects::set_approved(&state.db, created.id, true, now).await?;
    }
    let master_token = projects::issue_master_token(&state.db, &state.key, created.id, now).await?;
    tracing::info!(
        project.id = created.id,
        project.slug = %created.slug,
        member.id = member.id,
        approved,
        "project created by an operator"
    );
    Ok(Ok(json!({
        "id": created.id,
        "slug": created.slug,
        "client_id": created.client_id,
        "client_secret": created.client_secret,
        "master_access_token": master_token,
    })))
}

/// Approves a project from any state, recording the operator in its approval history
/// and emailing its contact address, as an admin's approval on the review page does.
async fn approve_project(state: &AppState, slug: &str) -> CommandResult {
    let Some(project) = projects::find_by_slug(&state.db, slug).await? else {
        return Ok(Err(Rejection::new(format!(
            "project not found: no project has the slug {slug:?}"
        ))));
    };
    if project.approved {
        return Ok(Ok(json!({ "slug": project.slug, "approved": true })));
    }
    let action = ApprovalAction::Approved;
    let email = crate::http::pages::admin::decision_email(state, &project, action, "");
    approvals::record_decision(
        &state.db,
        project.id,
        &Actor::operator(),
        action,
        None,
        "",
        &email,
        state.clock.now(),
    )
    .await?;
    tracing::info!(project.id = project.id, "project approved by an operator");
    Ok(Ok(json!({ "slug": project.slug, "approved": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_url_may_be_a_list() {
        let file: ProjectFile = serde_json::from_str(
            r#"{"redirect_url": ["https://a.example/cb", "https://b.example/cb"]}"#,
        )
        .unwrap();
        assert_eq!(
            file.into_input(Vec::new()).redirect_url,
            "https://a.example/cb https://b.example/cb"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let error = serde_json::from_str::<ProjectFile>(r#"{"nmae": "typo"}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `nmae`"),
            "{error}"
        );
    }
}
