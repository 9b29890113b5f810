//! `/member/me/access-log/`: every download of the member's files, by a project
//! through a download URL or by the member, filtered by downloader and date range and
//! paginated. The log stores who, which file, when and from which address; it never
//! stores the download URL or any token.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use chrono::NaiveDate;

use super::data::{names_of, project_name};
use crate::app::AppState;
use crate::clock::{DAY, human};
use crate::db::files::{self, DownloadFilter, Downloader};
use crate::http::api::direct_sharing::query_value;
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, PageContext};

/// Downloads per page of the access log.
pub const ACCESS_LOG_PAGE: i64 = 50;

/// One download in the access log.
pub struct DownloadItem {
    pub at: String,
    pub basename: String,
    pub file_id: i64,
    /// The project that downloaded the file, or `you` for the member's own downloads.
    pub by: String,
    pub client_address: String,
}

/// One choice of the downloader filter.
pub struct DownloaderOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The filter as the member entered it, echoed back into the form and the page links.
#[derive(Default)]
pub struct FilterInput {
    pub downloader: String,
    pub from: String,
    pub to: String,
}

impl FilterInput {
    /// Encodes these filters as a query string without `page`, for the pagination links.
    pub fn query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("downloader", &self.downloader)
            .append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .finish()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "data/access_log.html")]
pub struct AccessLogPage {
    ctx: PageContext,
    downloads: Vec<DownloadItem>,
    downloaders: Vec<DownloaderOption>,
    input: FilterInput,
    filtered: bool,
    total: i64,
    page: i64,
    pages: i64,
}

/// `GET /member/me/access-log/?downloader=&from=&to=&page=`: downloads of the member's
/// files, newest first, 50 per page. `downloader` is a project id or `you`; `from`
/// and `to` are dates (`YYYY-MM-DD`, UTC, both included). Invalid values are a 400
/// page that names the field.
pub async fn access_log(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    RawQuery(query): RawQuery,
) -> Result<AccessLogPage, PageError> {
    let query = query.as_deref();
    let input = FilterInput {
        downloader: query_value(query, "downloader").unwrap_or_default(),
        from: query_value(query, "from").unwrap_or_default(),
        to: query_value(query, "to").unwrap_or_default(),
    };
    let filter = parse_filter(&input).map_err(PageError::BadRequest)?;
    let requested =
        parse_page(query_value(query, "page").as_deref()).map_err(PageError::BadRequest)?;

    let total = files::count_downloads_matching(&state.db, member.id, &filter).await?;
    let pages = ((total + ACCESS_LOG_PAGE - 1) / ACCESS_LOG_PAGE).max(1);
    // A page past the end is empty, with a link back, as the directory's is.
    let page = requested;
    let offset = (page - 1).saturating_mul(ACCESS_LOG_PAGE);
    let downloads =
        files::list_downloads_matching(&state.db, member.id, &filter, ACCESS_LOG_PAGE, offset)
            .await?;

    let project_ids = files::downloading_projects(&state.db, member.id).await?;
    let names = names_of(
        &state,
        project_ids
            .iter()
            .copied()
            .chain(downloads.iter().filter_map(|d| d.project_id)),
    )
    .await?;
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
            client_address: download.client_address,
        })
        .collect();
    let mut downloaders = vec![DownloaderOption {
        value: "you".to_string(),
        label: "you".to_string(),
        selected: filter.downloader == Some(Downloader::Member),
    }];
    downloaders.extend(project_ids.into_iter().map(|id| DownloaderOption {
        value: id.to_string(),
        label: project_name(&names, id),
        selected: filter.downloader == Some(Downloader::Project(id)),
    }));
    Ok(AccessLogPage {
        ctx,
        downloads,
        downloaders,
        filtered: filter != DownloadFilter::default(),
        input,
        total,
        page,
        pages,
    })
}

/// Reads the filter form. Empty fields filter nothing.
fn parse_filter(input: &FilterInput) -> Result<DownloadFilter, String> {
    let downloader = match input.downloader.trim() {
        "" => None,
        "you" => Some(Downloader::Member),
        value => Some(Downloader::Project(value.parse().map_err(|_| {
            format!("The downloader filter must be \"you\" or a project id, not {value:?}.")
        })?)),
    };
    let from = parse_date("from", &input.from)?;
    let to = parse_date("to", &input.to)?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(format!(
            "The date range is empty: \"to\" ({}) is before \"from\" ({}).",
            input.to.trim(),
            input.from.trim()
        ));
    }
    Ok(DownloadFilter {
        downloader,
        from,
        // Both ends are whole days, so "to" includes the whole of its day.
        until: to.map(|to| to + DAY),
    })
}

/// Reads an optional `YYYY-MM-DD` date as the microsecond its day starts (UTC).
fn parse_date(field: &str, value: &str) -> Result<Option<i64>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        format!("The \"{field}\" date must be a date such as 2026-12-31, not {value:?}.")
    })?;
    let start = date
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists on every date")
        .and_utc()
        .timestamp_micros();
    Ok(Some(start))
}

/// Reads the page number; absent is page 1.
fn parse_page(value: Option<&str>) -> Result<i64, String> {
    match value.map(str::trim).filter(|value| !value.is_empty()) {
        None => Ok(1),
        Some(value) => value
            .parse::<i64>()
            .ok()
            .filter(|&page| page >= 1)
            .ok_or_else(|| format!("The page must be a whole number from 1 up, not {value:?}.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(downloader: &str, from: &str, to: &str) -> FilterInput {
        FilterInput {
            downloader: downloader.to_string(),
            from: from.to_string(),
            to: to.to_string(),
        }
    }

    #[test]
    fn empty_filter_matches_everything() {
        assert_eq!(
            parse_filter(&input("", "", "")).unwrap(),
            DownloadFilter::default()
        );
    }

    #[test]
    fn to_date_includes_its_whole_day() {
        let filter = parse_filter(&input("you", "2026-12-01", "2026-12-01")).unwrap();
        assert_eq!(filter.downloader, Some(Downloader::Member));
        assert_eq!(filter.until.unwrap() - filter.from.unwrap(), DAY);
    }

    #[test]
    fn invalid_filters_name_the_field() {
        let error = parse_filter(&input("abc", "", "")).unwrap_err();
        assert!(error.contains("downloader"), "{error}");
        let error = parse_filter(&input("", "2026-13-01", "")).unwrap_err();
        assert!(error.contains("\"from\""), "{error}");
        let error = parse_filter(&input("", "2026-12-02", "2026-12-01")).unwrap_err();
        assert!(error.contains("empty"), "{error}");
        assert!(parse_page(Some("0")).is_err());
        assert!(parse_page(Some("x")).is_err());
        assert_eq!(parse_page(Some("3")), Ok(3));
    }
}
