//! `/member/me/data/`: a member's own files, grouped by the project that added them,
//! and deleting one file or every file from one source. Each page shows and changes
//! only the logged-in member's data; another member's file is a 404.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::app::AppState;
use crate::clock::human;
use crate::db::exports;
use crate::db::files::{self, DataFile};
use crate::db::oauth2::project_names;
use crate::http::error::PageError;
use crate::http::pages::connections::delete_objects;
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};
use crate::http::storage::mint_download_url;

/// One file on the data page.
pub struct FileItem {
    pub id: i64,
    pub basename: String,
    pub size: String,
    pub created: String,
    pub description: String,
    pub tags: Vec<String>,
    pub download_url: String,
}

/// The files one project added.
pub struct SourceGroup {
    pub project_id: i64,
    pub project_name: String,
    pub files: Vec<FileItem>,
}

#[derive(Template, WebTemplate)]
#[template(path = "data/files.html")]
pub struct DataPage {
    ctx: PageContext,
    groups: Vec<SourceGroup>,
}

/// `GET /member/me/data/`: the member's completed files by source project, each with
/// a download link for the member.
pub async fn list_data(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
) -> Result<DataPage, PageError> {
    let list = files::list_completed_for_member(&state.db, member.id).await?;
    let names = names_of(&state, list.iter().map(|file| file.project_id)).await?;
    let now = state.clock.now();

    let mut groups: Vec<(i64, SourceGroup)> = Vec::new();
    for file in list {
        let metadata: Value = serde_json::from_str(&file.metadata).unwrap_or(Value::Null);
        let item = FileItem {
            id: file.id,
            download_url: mint_download_url(&state, file.id, None, now),
            basename: file.basename,
            size: file.size.map(format_size).unwrap_or_default(),
            created: human(file.created_at),
            description: metadata["description"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            tags: metadata["tags"]
                .as_array()
                .map(|tags| {
                    tags.iter()
                        .filter_map(|tag| tag.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        };
        match groups.last_mut() {
            Some((project_id, group)) if *project_id == file.project_id => group.files.push(item),
            _ => groups.push((
                file.project_id,
                SourceGroup {
                    project_id: file.project_id,
                    project_name: project_name(&names, file.project_id),
                    files: vec![item],
                },
            )),
        }
    }
    Ok(DataPage {
        ctx,
        groups: groups.into_iter().map(|(_, group)| group).collect(),
    })
}

/// The subject of a delete confirmation page: one file, or every file of one source.
pub enum DeleteTarget {
    File { id: i64, basename: String },
    Source { id: i64, count: usize },
}

#[derive(Template, WebTemplate)]
#[template(path = "data/delete.html")]
pub struct DeletePage {
    ctx: PageContext,
    target: DeleteTarget,
    project_name: String,
}

/// `GET /member/me/data/files/<id>/delete/`: the confirmation page for deleting one
/// of the member's files.
pub async fn delete_file_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(file_id): Path<i64>,
) -> Result<DeletePage, PageError> {
    let file = own_file(&state, member.id, file_id).await?;
    let names = names_of(&state, std::iter::once(file.project_id)).await?;
    Ok(DeletePage {
        ctx,
        project_name: project_name(&names, file.project_id),
        target: DeleteTarget::File {
            id: file.id,
            basename: file.basename,
        },
    })
}

/// `POST /member/me/data/files/<id>/delete/`: deletes one of the member's files.
pub async fn delete_file(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    Path(file_id): Path<i64>,
) -> Result<Response, PageError> {
    let file = own_file(&state, member.id, file_id).await?;
    let deleted = delete_files(&state, member.id, &[file.id]).await?;
    let message = match deleted.count {
        0 => "That file was already deleted.".to_string(),
        _ => format!("{} was deleted.{}", file.basename, deleted.export_note()),
    };
    Ok(
        redirect_with_flash(&state, "/member/me/data/", FlashKind::Success, &message)
            .into_response(),
    )
}

/// `GET /member/me/data/sources/<project_id>/delete/`: the confirmation page for
/// deleting every file that one project added.
pub async fn delete_source_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(project_id): Path<i64>,
) -> Result<DeletePage, PageError> {
    let count = source_files(&state, member.id, project_id).await?.len();
    let names = names_of(&state, std::iter::once(project_id)).await?;
    Ok(DeletePage {
        ctx,
        project_name: project_name(&names, project_id),
        target: DeleteTarget::Source {
            id: project_id,
            count,
        },
    })
}

/// `POST /member/me/data/sources/<project_id>/delete/`: deletes every file of the
/// member's that the project added.
pub async fn delete_source(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    Path(project_id): Path<i64>,
) -> Result<Response, PageError> {
    let ids: Vec<i64> = source_files(&state, member.id, project_id)
        .await?
        .iter()
        .map(|file| file.id)
        .collect();
    let deleted = delete_files(&state, member.id, &ids).await?;
    let names = names_of(&state, std::iter::once(project_id)).await?;
    let (files_word, verb) = if deleted.count == 1 {
        ("file", "was")
    } else {
        ("files", "were")
    };
    let name = project_name(&names, project_id);
    let message = format!(
        "{} {files_word} from {name} {verb} deleted.{}",
        deleted.count,
        deleted.export_note()
    );
    Ok(
        redirect_with_flash(&state, "/member/me/data/", FlashKind::Success, &message)
            .into_response(),
    )
}

/// Loads one of the member's completed files; any other file is a 404.
async fn own_file(state: &AppState, member_id: i64, file_id: i64) -> Result<DataFile, PageError> {
    files::find_by_id(&state.db, file_id)
        .await?
        .filter(|file| file.member_id == member_id && file.completed)
        .ok_or(PageError::NotFound)
}

/// Loads the member's completed files from one source; none is a 404.
async fn source_files(
    state: &AppState,
    member_id: i64,
    project_id: i64,
) -> Result<Vec<DataFile>, PageError> {
    let list = files::list_uploaded_by_project(&state.db, project_id, member_id).await?;
    if list.is_empty() {
        return Err(PageError::NotFound);
    }
    Ok(list)
}

/// The outcome of a member's deletion.
struct Deleted {
    /// Files deleted.
    count: usize,
    /// Whether an export of the member's data was deleted or cancelled with them.
    export_withdrawn: bool,
}

impl Deleted {
    /// Returns the confirmation's sentence about a withdrawn export, or nothing.
    fn export_note(&self) -> &'static str {
        if self.export_withdrawn {
            " Your data export, which contained them, was deleted too; request a new \
             one on your export page."
        } else {
            ""
        }
    }
}

/// Deletes files as a project's own deletion does: the rows first, so the files
/// vanish from every listing and download link at once, then their objects. A failed
/// object deletion is logged and leaves only an orphaned object.
///
/// Every export of the member's is withdrawn too: one already built holds copies of
/// the files, and a member who deletes data expects no copy of it to remain here.
/// (A project deleting a member's files through the API leaves exports alone: the
/// export is the member's own copy, and the member did not ask for the deletion.)
async fn delete_files(state: &AppState, member_id: i64, ids: &[i64]) -> Result<Deleted, PageError> {
    let deleted = files::delete_for_member(&state.db, member_id, ids).await?;
    let keys: Vec<String> = deleted
        .iter()
        .map(|file| file.storage_key.clone())
        .collect();
    delete_objects(state, &keys).await;
    tracing::info!(
        member.id = member_id,
        count = deleted.len(),
        "member deleted files"
    );
    let mut export_withdrawn = false;
    if !deleted.is_empty() {
        let reason = "Cancelled because you deleted files. Request a new export.";
        let (keys, any) =
            exports::withdraw_for_member(&state.db, member_id, reason, state.clock.now()).await?;
        delete_objects(state, &keys).await;
        export_withdrawn = any;
    }
    Ok(Deleted {
        count: deleted.len(),
        export_withdrawn,
    })
}

/// Returns the names of the projects with `ids`.
pub(crate) async fn names_of(
    state: &AppState,
    ids: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, String>, PageError> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(project_names(&state.db, &ids).await?.into_iter().collect())
}

/// Returns a project's name, or `Project ID` for a project that no longer exists.
pub(crate) fn project_name(names: &HashMap<i64, String>, id: i64) -> String {
    names
        .get(&id)
        .cloned()
        .unwrap_or_else(|| format!("Project {id}"))
}

/// Formats a size in bytes with a binary unit, e.g. `1.5 MiB`.
pub(crate) fn format_size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(format_size(5), "5 bytes");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(3 * 1024 * 1024), "3.0 MiB");
    }
}
