//! An export of more than 200 MiB, built by the real binary in a child process, so
//! that its memory can be read from `/proc/PID/status`: the zip must stream, not
//! gather in memory.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use openhumans::db::files::{self, NewDataFile};
use sha2::{Digest, Sha256};

use super::{read_zip, save_body};
use crate::support::process::{ChildProcess, free_port, openhumans, wait_until_serving};
use crate::support::{SharedDatabase, TestApp, eventually, fixtures};

const MIB: usize = 1024 * 1024;
/// Sizes of the exported files: 210 MiB in all.
const FILE_MIB: [usize; 3] = [90, 80, 40];
/// How much the server's resident memory may grow while it builds the export.
const MAX_GROWTH_KIB: u64 = 64 * 1024;
/// The secret key of every test app; the child uses it too, so sessions work in both.
const SECRET_KEY: &str = "test-secret-key-0123456789abcdefghijklmnop";

/// Stores `mib` MiB of pseudo-random bytes under `key`, one MiB at a time, and
/// returns their SHA-256.
async fn store_random_file(app: &TestApp, key: &str, mib: usize, seed: u64) -> String {
    let mut state = seed | 1;
    let mut hasher = Sha256::new();
    // Each chunk is made when the upload reads it, so at most one MiB is held.
    let body = stream::iter(0..mib).map(|_| {
        let mut chunk = vec![0u8; MIB];
        for word in chunk.chunks_exact_mut(8) {
            // xorshift64: fast, and the bytes do not compress.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        hasher.update(&chunk);
        Ok::<_, std::io::Error>(Bytes::from(chunk))
    });
    let stored = app
        .state
        .storage
        .put_stream(key, body, u64::MAX, false)
        .await
        .unwrap();
    assert_eq!(stored.size, (mib * MIB) as u64);
    hex::encode(hasher.finalize())
}

/// Reads a `kB` field such as `VmRSS` from `/proc/PID/status`.
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_export_streams_in_constant_memory() {
    let shared = SharedDatabase::create().await;
    // This app only prepares the data, and stops before the export is requested, so
    // that the child process alone builds it.
    let mut app = TestApp::builder().shared(&shared).spawn().await;
    let coordinator = fixtures::create_member(&app, "coordinator").await;
    let project = fixtures::create_project(
        &app,
        coordinator.id,
        &fixtures::project_config("Genome Study", "https://example.org/callback"),
    )
    .await;
    let member = fixtures::create_member(&app, "big_data").await;
    let mut expected = Vec::new();
    for (n, mib) in FILE_MIB.into_iter().enumerate() {
        let name = format!("genome-{n}.bin");
        let key = format!("test/{}/{name}", member.id);
        let digest = store_random_file(&app, &key, mib, n as u64 + 7).await;
        files::insert(
            &app.state.db,
            &NewDataFile {
                member_id: member.id,
                project_id: project.id,
                storage_key: &key,
                basename: &name,
                metadata: r#"{"description": "Whole genome", "tags": ["genome"]}"#,
                completed: true,
                size: Some((mib * MIB) as i64),
                md5: None,
                datatype_ids: &[],
            },
            app.clock().now(),
        )
        .await
        .unwrap();
        expected.push((name, mib * MIB, digest));
    }
    let browser = fixtures::logged_in_client(&app, member.id).await;
    app.stop().await;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut command = openhumans(&["serve"]);
    command
        .env("OPENHUMANS_DATA_DIR", shared.dir.path())
        .env("DATABASE_URL", &shared.url)
        .env("OPENHUMANS_BIND", format!("127.0.0.1:{port}"))
        .env("OPENHUMANS_PUBLIC_URL", &base)
        .env("OPENHUMANS_SECRET_KEY", SECRET_KEY)
        .env("OPENHUMANS_WORKERS", "1");
    let logs = tempfile::tempdir().unwrap();
    let mut server = ChildProcess::spawn(command, "openhumans-serve", logs.path());
    wait_until_serving(
        &mut server,
        &format!("{base}/healthz"),
        Duration::from_secs(30),
    )
    .await;
    let pid = server.id();

    // Warm the server up with the pages the test uses, then take the baseline.
    let page = browser
        .get(format!("{base}/member/me/export/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let before = proc_status_kib(pid, "VmRSS");

    let response = browser
        .post(format!("{base}/member/me/export/"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("confirm", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let mut peak = before;
    eventually(
        Duration::from_secs(600),
        "the large export to be ready",
        || {
            peak = peak.max(proc_status_kib(pid, "VmRSS"));
            let browser = browser.clone();
            let url = format!("{base}/member/me/export/");
            async move {
                let html = browser.get(url).send().await.ok()?.text().await.ok()?;
                assert!(!html.contains("data-state=\"failed\""), "{html}");
                html.contains("data-state=\"ready\"").then_some(())
            }
        },
    )
    .await;
    peak = peak.max(proc_status_kib(pid, "VmRSS"));
    let growth = peak.saturating_sub(before);
    eprintln!("server RSS: {before} KiB before the export, {peak} KiB at its peak");
    assert!(
        growth <= MAX_GROWTH_KIB,
        "the server's RSS grew by {growth} KiB (from {before} KiB to {peak} KiB) while \
         exporting 210 MiB"
    );

    let response = browser
        .get(format!("{base}/member/me/export/download/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the owner's session downloads the zip"
    );
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("export.zip");
    let size = save_body(response, &zip_path).await;
    assert!(size > 210 * MIB as u64, "{size}");

    let zip = read_zip(&zip_path).await;
    let listed = zip.manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), expected.len());
    for (name, size, digest) in &expected {
        let entry = listed.iter().find(|file| file["name"] == *name).unwrap();
        let path = entry["path"].as_str().unwrap();
        assert_eq!(zip.entries[path]["size"], *size as u64, "{path}");
        assert_eq!(zip.entries[path]["sha256"], *digest, "{path}");
    }
    server.terminate();
}
