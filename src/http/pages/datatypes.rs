//! Datatype pages under `/data-management/datatypes/`. The list and each datatype's
//! page are public. Only site admins create and edit datatypes, and anyone else gets
//! 404 on those pages.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::clock::human;
use crate::db::datatypes::{self, Datatype, SaveDatatypeError};
use crate::domain::datatypes::{DatatypeInput, validate};
use crate::domain::forms::{FieldErrors, parse_bool};
use crate::http::error::PageError;
use crate::http::session::{AdminMember, FlashKind, PageContext, redirect_with_flash};

/// One row of the datatype list.
pub struct DatatypeRow {
    pub id: i64,
    pub name: String,
    pub parent: Option<String>,
    pub description: String,
    pub uploadable: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "datatypes/list.html")]
pub struct DatatypeListPage {
    ctx: PageContext,
    datatypes: Vec<DatatypeRow>,
}

/// `GET /data-management/datatypes/`: every datatype, by name.
pub async fn list_datatypes(
    ctx: PageContext,
    State(state): State<AppState>,
) -> Result<DatatypeListPage, PageError> {
    let all = datatypes::list(&state.db).await?;
    let rows = all
        .iter()
        .map(|datatype| DatatypeRow {
            id: datatype.id,
            name: datatype.name.clone(),
            parent: datatype
                .parent_id
                .and_then(|parent| all.iter().find(|other| other.id == parent))
                .map(|parent| parent.name.clone()),
            description: datatype.description.clone(),
            uploadable: datatype.uploadable,
        })
        .collect();
    Ok(DatatypeListPage {
        ctx,
        datatypes: rows,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "datatypes/detail.html")]
pub struct DatatypePage {
    ctx: PageContext,
    datatype: Datatype,
    parent: Option<Datatype>,
    children: Vec<Datatype>,
    modified: String,
    locked: bool,
}

/// `GET /data-management/datatypes/<id>/`: one datatype with its parent and children.
pub async fn datatype_page(
    ctx: PageContext,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<DatatypePage, PageError> {
    let datatype = load(&state, &id).await?;
    let parent = match datatype.parent_id {
        Some(parent) => datatypes::find_by_id(&state.db, parent).await?,
        None => None,
    };
    let mut children = Vec::new();
    for child in datatypes::children(&state.db, datatype.id).await? {
        if let Some(child) = datatypes::find_by_id(&state.db, child).await? {
            children.push(child);
        }
    }
    let locked = datatypes::is_locked(&state.db, datatype.id).await?;
    Ok(DatatypePage {
        ctx,
        modified: human(datatype.modified_at),
        datatype,
        parent,
        children,
        locked,
    })
}

/// A choice in the parent menu.
pub struct ParentOption {
    pub id: i64,
    pub name: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "datatypes/form.html")]
pub struct DatatypeFormPage {
    ctx: PageContext,
    /// The datatype being edited; `None` on the create page.
    editing: Option<i64>,
    form: DatatypeForm,
    parents: Vec<ParentOption>,
    errors: FieldErrors,
    locked: bool,
}

/// The fields of the create and update forms, as submitted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DatatypeForm {
    #[serde(default)]
    pub name: String,
    /// A datatype id, or empty for none.
    #[serde(default)]
    pub parent: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub details: String,
    /// `on` when the checkbox is ticked; absent otherwise.
    pub uploadable: Option<String>,
}

impl DatatypeForm {
    fn from_datatype(datatype: &Datatype) -> Self {
        Self {
            name: datatype.name.clone(),
            parent: datatype
                .parent_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            description: datatype.description.clone(),
            details: datatype.details.clone(),
            uploadable: datatype.uploadable.then(|| "on".to_string()),
        }
    }

    fn is_uploadable(&self) -> bool {
        self.uploadable.is_some()
    }

    /// Reads the submitted strings; unreadable values become field errors.
    fn to_input(&self) -> Result<DatatypeInput, FieldErrors> {
        let mut errors = FieldErrors::new();
        let parent_id = match self.parent.trim() {
            "" => None,
            parent => match parent.parse::<i64>() {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.add("parent", "Choose a parent from the list.");
                    None
                }
            },
        };
        let uploadable = match self.uploadable.as_deref().map(parse_bool) {
            None => false,
            Some(Some(value)) => value,
            Some(None) => {
                errors.add("uploadable", "Tick the box or leave it empty.");
                false
            }
        };
        errors.into_result()?;
        Ok(DatatypeInput {
            name: self.name.clone(),
            parent_id,
            description: self.description.clone(),
            details: self.details.replace("\r\n", "\n"),
            uploadable,
        })
    }
}

/// `GET /data-management/datatypes/create/`: the form for a new datatype (site admins).
pub async fn create_datatype_form(
    _admin: AdminMember,
    ctx: PageContext,
    State(state): State<AppState>,
) -> Result<DatatypeFormPage, PageError> {
    form_page(
        &state,
        ctx,
        None,
        DatatypeForm::default(),
        FieldErrors::new(),
    )
    .await
}

/// `POST /data-management/datatypes/create/`: creates a datatype (site admins).
pub async fn create_datatype(
    AdminMember(admin): AdminMember,
    ctx: PageContext,
    State(state): State<AppState>,
    Form(form): Form<DatatypeForm>,
) -> Result<Response, PageError> {
    let tree = datatypes::tree(&state.db).await?;
    let input = match form
        .to_input()
        .and_then(|input| validate(&input, None, &tree))
    {
        Ok(input) => input,
        Err(errors) => {
            return Ok(form_page(&state, ctx, None, form, errors)
                .await?
                .into_response());
        }
    };
    match datatypes::insert(&state.db, &input, admin.id, state.clock.now()).await {
        Ok(id) => {
            tracing::info!(datatype.id = id, member.id = admin.id, "created a datatype");
            Ok(redirect_with_flash(
                &state,
                &format!("/data-management/datatypes/{id}/"),
                FlashKind::Success,
                "The datatype was created.",
            ))
        }
        Err(SaveDatatypeError::NameTaken) => {
            let errors = name_taken();
            Ok(form_page(&state, ctx, None, form, errors)
                .await?
                .into_response())
        }
        Err(SaveDatatypeError::Database(error)) => Err(error.into()),
    }
}

/// `GET /data-management/datatypes/update/<id>/`: the edit form (site admins).
pub async fn update_datatype_form(
    _admin: AdminMember,
    ctx: PageContext,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<DatatypeFormPage, PageError> {
    let datatype = load(&state, &id).await?;
    let form = DatatypeForm::from_datatype(&datatype);
    form_page(&state, ctx, Some(datatype.id), form, FieldErrors::new()).await
}

/// `POST /data-management/datatypes/update/<id>/`: saves a datatype (site admins).
/// Once an approved project registered it, only its details may change.
pub async fn update_datatype(
    AdminMember(admin): AdminMember,
    ctx: PageContext,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<DatatypeForm>,
) -> Result<Response, PageError> {
    let datatype = load(&state, &id).await?;
    let tree = datatypes::tree(&state.db).await?;
    let checked = form
        .to_input()
        .and_then(|input| validate(&input, Some(datatype.id), &tree));
    let input = match checked {
        Ok(input) => input,
        Err(errors) => {
            return Ok(form_page(&state, ctx, Some(datatype.id), form, errors)
                .await?
                .into_response());
        }
    };
    let changes_locked_fields = input.name != datatype.name
        || input.parent_id != datatype.parent_id
        || input.description != datatype.description
        || input.uploadable != datatype.uploadable;
    if changes_locked_fields && datatypes::is_locked(&state.db, datatype.id).await? {
        let mut errors = FieldErrors::new();
        errors.add(
            "form",
            "An approved project uses this datatype, so only its details can change.",
        );
        return Ok(form_page(&state, ctx, Some(datatype.id), form, errors)
            .await?
            .into_response());
    }

    match datatypes::update(&state.db, datatype.id, &input, admin.id, state.clock.now()).await {
        Ok(()) => {
            tracing::info!(
                datatype.id = datatype.id,
                member.id = admin.id,
                "updated a datatype"
            );
            Ok(redirect_with_flash(
                &state,
                &format!("/data-management/datatypes/{}/", datatype.id),
                FlashKind::Success,
                "The datatype was saved.",
            ))
        }
        Err(SaveDatatypeError::NameTaken) => {
            Ok(
                form_page(&state, ctx, Some(datatype.id), form, name_taken())
                    .await?
                    .into_response(),
            )
        }
        Err(SaveDatatypeError::Database(error)) => Err(error.into()),
    }
}

fn name_taken() -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add("name", "A datatype with this name already exists.");
    errors
}

async fn load(state: &AppState, id: &str) -> Result<Datatype, PageError> {
    let id: i64 = id.parse().map_err(|_| PageError::NotFound)?;
    datatypes::find_by_id(&state.db, id)
        .await?
        .ok_or(PageError::NotFound)
}

/// Renders the create or edit form. The parent menu offers every datatype that is not
/// uploadable, except the one being edited.
async fn form_page(
    state: &AppState,
    ctx: PageContext,
    editing: Option<i64>,
    form: DatatypeForm,
    errors: FieldErrors,
) -> Result<DatatypeFormPage, PageError> {
    let parents = datatypes::list(&state.db)
        .await?
        .into_iter()
        .filter(|datatype| !datatype.uploadable && Some(datatype.id) != editing)
        .map(|datatype| ParentOption {
            selected: form.parent == datatype.id.to_string(),
            id: datatype.id,
            name: datatype.name,
        })
        .collect();
    let locked = match editing {
        Some(id) => datatypes::is_locked(&state.db, id).await?,
        None => false,
    };
    Ok(DatatypeFormPage {
        ctx,
        editing,
        form,
        parents,
        errors,
        locked,
    })
}
