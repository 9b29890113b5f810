//! Project badge images: checking an upload, storing it, and serving it back.
//!
//! A badge is accepted only when the `image` crate decodes it as the PNG, JPEG or WebP
//! image that its name and content type claim, within size, dimension and memory limits.
//! A script or SVG renamed to `.png` is therefore never stored or served. Badges are public:
//! member profiles and project lists show them to everyone.

use std::io::Cursor;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use image::{ImageFormat, ImageReader, Limits};

use super::error::PageError;
use crate::app::AppState;

/// Largest badge file accepted, in bytes (1 MiB).
pub const MAX_BADGE_BYTES: usize = 1024 * 1024;
/// Largest width or height of a badge, in pixels.
const MAX_BADGE_DIMENSION: u32 = 4096;
/// Memory the decoder may allocate, in bytes: a 4096 × 4096 RGBA image plus headroom.
/// Small files that claim huge dimensions (decompression bombs) fail on this limit.
const MAX_DECODE_ALLOCATION: u64 = 96 * 1024 * 1024;

/// A badge upload that decoded as the image type it claims to be.
#[derive(Debug, Clone)]
pub struct BadgeImage {
    pub bytes: Bytes,
    pub format: BadgeFormat,
}

/// The image types a badge may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeFormat {
    Png,
    Jpeg,
    WebP,
}

impl BadgeFormat {
    /// Reads the type from a file name's extension.
    fn from_file_name(file_name: &str) -> Option<Self> {
        let extension = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "png" => Some(Self::Png),
            "jpg" | "jpeg" => Some(Self::Jpeg),
            "webp" => Some(Self::WebP),
            _ => None,
        }
    }

    fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type.trim().to_ascii_lowercase().as_str() {
            "image/png" => Some(Self::Png),
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(Self::Jpeg),
            "image/webp" => Some(Self::WebP),
            _ => None,
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Self::Png => ImageFormat::Png,
            Self::Jpeg => ImageFormat::Jpeg,
            Self::WebP => ImageFormat::WebP,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::WebP => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::WebP => "image/webp",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::WebP => "WebP",
        }
    }
}

/// Checks an uploaded badge and returns the message to show next to the field when it
/// is rejected. `content_type` is the type the browser declared, if any.
pub fn check_badge(
    file_name: &str,
    content_type: Option<&str>,
    bytes: Bytes,
) -> Result<BadgeImage, String> {
    if bytes.len() > MAX_BADGE_BYTES {
        return Err(format!(
            "Badge image must be at most 1 MiB ({MAX_BADGE_BYTES} bytes); this file is larger."
        ));
    }
    let Some(format) = BadgeFormat::from_file_name(file_name) else {
        return Err(format!(
            "Badge image {file_name:?} must be a PNG, JPEG or WebP file, named .png, .jpg, \
             .jpeg or .webp."
        ));
    };
    // Browsers send application/octet-stream for types they do not know; only a
    // declared image type has to agree with the name.
    if let Some(declared) = content_type.and_then(BadgeFormat::from_content_type)
        && declared != format
    {
        return Err(format!(
            "Badge image {file_name:?} is named as a {} file but was sent as {}.",
            format.name(),
            declared.content_type()
        ));
    }

    let mut reader = ImageReader::new(Cursor::new(bytes.as_ref()))
        .with_guessed_format()
        .map_err(|_| "Badge image could not be read.".to_string())?;
    match reader.format() {
        Some(found) if found == format.image_format() => {}
        Some(found)
            if [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP].contains(&found) =>
        {
            return Err(format!(
                "Badge image {file_name:?} is named as a {} file but contains a {} image; \
                 rename it or save it in the right format.",
                format.name(),
                found
                    .extensions_str()
                    .first()
                    .copied()
                    .unwrap_or("different")
                    .to_uppercase()
            ));
        }
        _ => {
            return Err(format!(
                "Badge image {file_name:?} is not a {} image. Upload a PNG, JPEG or WebP \
                 picture (SVG is not accepted).",
                format.name()
            ));
        }
    }

    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_BADGE_DIMENSION);
    limits.max_image_height = Some(MAX_BADGE_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_ALLOCATION);
    reader.limits(limits);
    match reader.decode() {
        Ok(_) => Ok(BadgeImage { bytes, format }),
        Err(image::ImageError::Limits(_)) => Err(format!(
            "Badge image must be at most {MAX_BADGE_DIMENSION} × {MAX_BADGE_DIMENSION} pixels."
        )),
        Err(_) => Err(format!(
            "Badge image {file_name:?} is damaged or not a valid {} image.",
            format.name()
        )),
    }
}

/// Stores a badge for a project under a new key and returns the key. The key contains
/// the project id and a random part, so a replaced badge gets a new URL and browsers
/// never show a cached old one.
pub async fn store_badge(
    state: &AppState,
    project_id: i64,
    badge: &BadgeImage,
) -> anyhow::Result<String> {
    let key = format!(
        "badges/{project_id}/{}.{}",
        crate::crypto::random_token(16),
        badge.format.extension()
    );
    state.storage.put(&key, badge.bytes.clone()).await?;
    Ok(key)
}

/// The path a stored badge is served at, e.g. `/direct-sharing/badges/7/AbC.png`.
pub fn badge_path(badge_key: &str) -> String {
    format!("/direct-sharing/{badge_key}")
}

/// `GET /direct-sharing/badges/<project id>/<file>`: the project's current badge.
/// Only the key recorded for the project is served, with the content type of the format
/// it was checked as, so nothing else in storage can be read through this path.
pub async fn serve_badge(
    State(state): State<AppState>,
    Path((project_id, file)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let project_id: i64 = project_id.parse().map_err(|_| PageError::NotFound)?;
    let Some(project) = crate::db::projects::find_by_id(&state.db, project_id).await? else {
        return Err(PageError::NotFound);
    };
    let key = format!("badges/{project_id}/{file}");
    if project.badge_key.as_deref() != Some(key.as_str()) {
        return Err(PageError::NotFound);
    }
    let Some(format) = BadgeFormat::from_file_name(&file) else {
        return Err(PageError::NotFound);
    };
    let Some(bytes) = state.storage.get(&key).await? else {
        tracing::warn!(
            project.id = project_id,
            key,
            "badge recorded but missing from storage"
        );
        return Err(PageError::NotFound);
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            // The file name changes with every upload, so a stored badge never changes.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Bytes {
        let image = image::RgbImage::new(width, height);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        Bytes::from(out.into_inner())
    }

    fn jpeg() -> Bytes {
        let image = image::RgbImage::new(8, 8);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        Bytes::from(out.into_inner())
    }

    #[test]
    fn png_badge_is_accepted() {
        let badge = check_badge("logo.PNG", Some("image/png"), png(8, 8)).unwrap();
        assert_eq!(badge.format, BadgeFormat::Png);
    }

    #[test]
    fn jpeg_named_png_is_rejected() {
        let message = check_badge("logo.png", None, jpeg()).unwrap_err();
        assert!(message.contains("contains a JPG image"), "{message}");
    }

    #[test]
    fn declared_type_must_match_name() {
        let message = check_badge("logo.png", Some("image/jpeg"), png(8, 8)).unwrap_err();
        assert!(message.contains("sent as image/jpeg"), "{message}");
    }

    #[test]
    fn text_and_svg_are_rejected() {
        let text = Bytes::from_static(b"just some text, not an image");
        assert!(check_badge("logo.png", Some("image/png"), text).is_err());
        let svg = Bytes::from_static(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
        assert!(check_badge("logo.svg", Some("image/svg+xml"), svg.clone()).is_err());
        assert!(check_badge("logo.png", None, svg).is_err());
    }

    #[test]
    fn oversize_file_is_rejected() {
        let big = Bytes::from(vec![0u8; MAX_BADGE_BYTES + 1]);
        let message = check_badge("logo.png", None, big).unwrap_err();
        assert!(message.contains("at most 1 MiB"), "{message}");
    }

    #[test]
    fn huge_dimensions_are_rejected() {
        let message = check_badge("wide.png", None, png(MAX_BADGE_DIMENSION + 1, 1)).unwrap_err();
        assert!(message.contains("pixels"), "{message}");
    }

    #[test]
    fn truncated_png_is_rejected() {
        let whole = png(32, 32);
        let truncated = whole.slice(..whole.len() / 2);
        let message = check_badge("logo.png", None, truncated).unwrap_err();
        assert!(message.contains("damaged"), "{message}");
    }
}
