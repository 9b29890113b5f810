//! The member's control over their data: the data page and deleting files, the access
//! log, the consent record, and exporting everything as a zip.

mod access_log;
mod agreements;
mod delete_files;
mod export;
mod large_export;

use std::io::Write;
use std::path::Path;

use crate::api::ApiSetup;

/// GETs a page as `client` and returns its status and body.
pub async fn page(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// POSTs an empty form as a same-origin browser would.
pub async fn post_form(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client
        .post(url)
        .header("sec-fetch-site", "same-origin")
        .form(&[("confirm", "on")])
        .send()
        .await
        .unwrap()
}

/// Returns the project's `exchange-member` listing of the member's files.
pub async fn exchange_member(api: &ApiSetup) -> serde_json::Value {
    api.get("exchange-member/", &api.access_token, &[])
        .await
        .json()
        .await
        .unwrap()
}

/// Returns the download URL the project API hands out for the member's file `file_id`.
pub async fn project_download_url(api: &ApiSetup, file_id: i64) -> String {
    let body = exchange_member(api).await;
    let file = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["id"].as_i64() == Some(file_id))
        .unwrap_or_else(|| panic!("file {file_id} is not listed: {body}"));
    file["download_url"].as_str().unwrap().to_string()
}

/// What Python's `zipfile` read from a zip: each entry's size, SHA-256, Unix mode and
/// `[year, month, day, hour, minute, second]` date, and the parsed `manifest.json`.
pub struct ZipContents {
    pub entries: serde_json::Map<String, serde_json::Value>,
    pub manifest: serde_json::Value,
}

const READ_ZIP: &str = r#"
import hashlib, json, sys, zipfile
entries = {}
with zipfile.ZipFile(sys.argv[1]) as archive:
    assert archive.testzip() is None, "a CRC check failed"
    for info in archive.infolist():
        digest = hashlib.sha256()
        with archive.open(info) as member:
            for chunk in iter(lambda: member.read(1 << 20), b""):
                digest.update(chunk)
        entries[info.filename] = {
            "size": info.file_size,
            "sha256": digest.hexdigest(),
            "mode": info.external_attr >> 16,
            "date_time": list(info.date_time),
        }
    manifest = json.loads(archive.read("manifest.json"))
print(json.dumps({"entries": entries, "manifest": manifest}))
"#;

/// Opens the zip at `path` with Python's `zipfile` (from the test virtual
/// environment), checking every entry's CRC.
pub async fn read_zip(path: &Path) -> ZipContents {
    let python = std::env::var("OPENHUMANS_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("OPENHUMANS_TEST_PYTHON is not set: run scripts/test, which sets up .venv")
    });
    let output = tokio::process::Command::new(&python)
        .arg("-c")
        .arg(READ_ZIP)
        .arg(path)
        .output()
        .await
        .unwrap_or_else(|error| panic!("starting {python}: {error}"));
    assert!(
        output.status.success(),
        "zipfile could not read the export: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut parsed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    ZipContents {
        entries: parsed["entries"].as_object().unwrap().clone(),
        manifest: parsed["manifest"].take(),
    }
}

/// Streams a response body to a file, never holding it whole in memory.
pub async fn save_body(mut response: reqwest::Response, path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let mut size = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        file.write_all(&chunk).unwrap();
        size += chunk.len() as u64;
    }
    size
}

/// Hex SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
