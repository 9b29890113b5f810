//! `/member/me/data/` and `/member/me/access-log/`: a member's own files, grouped by
//! the project that added them, and the log of who downloaded them. Each page shows
//! only the logged-in member's data.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use serde_json::Value;

use crate::app::AppState;
use crate::clock::human;
use crate::db::files;
use crate::db::oauth2::project_names;
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, PageContext};
use crate::http::storage::mint_download_url;

/// Downloads per page of the access log.
pub const ACCESS_LOG_PAGE: i64 = 50;

/// One file on the data page.
pub struct FileItem {
    pub basename: String,
    pub size: String,
    pub created: String,
    pub description: String,
    pub tags: Vec<String>,
    pub download_url: String,
}

/// The files one project added.
pub struct SourceGroup {
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

/// One download in the access log.
pub struct DownloadItem {
    pub at: String,
    pub basename: String,
    pub file_id: i64,
    /// The project that downloaded the file, or `you` for the member's own downloads.
    pub by: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "data/access_log.html")]
pub struct AccessLogPage {
    ctx: PageContext,
    downloads: Vec<DownloadItem>,
    page: i64,
    pages: i64,
}

/// `GET /member/me/access-log/?page=N`: downloads of the member's files, newest first,
/// 50 per page.
pub async fn access_log(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    RawQuery(query): RawQuery,
) -> Result<AccessLogPage, PageError> {
    let requested = crate::http::api::direct_sharing::query_value(query.as_deref(), "page")
        .and_then(|page| page.parse::<i64>().ok())
        .filter(|&page| page >= 1)
        .unwrap_or(1);
    let count = files::count_downloads(&state.db, member.id).await?;
    let pages = ((count + ACCESS_LOG_PAGE - 1) / ACCESS_LOG_PAGE).max(1);
    let page = requested.min(pages);
    let downloads = files::list_downloads_page(
        &state.db,
        member.id,
        ACCESS_LOG_PAGE,
        (page - 1) * ACCESS_LOG_PAGE,
    )
    .await?;
    let names = names_of(&state, downloads.iter().filter_map(|d| d.project_id)).await?;
    let downloads = downloads
        .into_iter()
        .map(|download| DownloadItem {
            at: human(download.at),
            basename: download.basename,
            file_id: download.file_id,
            by: match download.project_id {
                Some(id) => project_name(&names, id),
                None if download.by_member != 0 => "you".to_string(),
                None => "a project that no longer exists".to_string(),
            },
        })
        .collect();
    Ok(AccessLogPage {
        ctx,
        downloads,
        page,
        pages,
    })
}

async fn names_of(
    state: &AppState,
    ids: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, String>, PageError> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(project_names(&state.db, &ids).await?.into_iter().collect())
}

fn project_name(names: &HashMap<i64, String>, id: i64) -> String {
    names
        .get(&id)
        .cloned()
        .unwrap_or_else(|| format!("Project {id}"))
}

/// Formats a size in bytes with a binary unit, e.g. `1.5 MiB`.
fn format_size(bytes: i64) -> String {
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
