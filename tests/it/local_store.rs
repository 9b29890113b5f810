//! Streamed writes to the local directory store: whole objects after success, no
//! object, directory or staging file left by a write that failed or was dropped
//! midway, and the files of uploads a crash cut off removed by the clean-up.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use md5::Digest;
use openhumans::blob::{PutStreamError, Storage};
use rand::RngCore;

use crate::support::{TestApp, eventually, files_under};

/// Larger than the store's flush interval (8 MiB), so flushes run while
/// the chunks are written, and not a whole number of chunks.
const LARGE: usize = 20 * 1024 * 1024 + 7;
const CHUNK: usize = 64 * 1024;

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

fn chunks(bytes: &[u8]) -> Vec<Result<Bytes, std::io::Error>> {
    bytes
        .chunks(CHUNK)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect()
}

fn open(dir: &tempfile::TempDir) -> Storage {
    Storage::open(dir.path().to_str().unwrap()).unwrap()
}

#[tokio::test]
async fn streamed_write_stores_the_whole_object() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    let bytes = random_bytes(LARGE);

    let stored = storage
        .put_stream(
            "member-files/1/abc/genome.txt",
            stream::iter(chunks(&bytes)),
            u64::MAX,
            true,
        )
        .await
        .unwrap();

    assert_eq!(stored.size, LARGE as u64);
    assert_eq!(stored.md5, Some(hex::encode(md5::Md5::digest(&bytes))));
    let back = storage
        .get("member-files/1/abc/genome.txt")
        .await
        .unwrap()
        .unwrap();
    assert!(back.as_ref() == &bytes[..], "the object round-trips");
    assert_eq!(
        files_under(dir.path()),
        vec![dir.path().join("member-files/1/abc/genome.txt")],
        "only the object is left, no staging file"
    );
}

#[tokio::test]
async fn streamed_write_replaces_an_existing_object() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    storage
        .put_stream("a/b.bin", stream::iter(chunks(&[1; 100])), u64::MAX, false)
        .await
        .unwrap();

    storage
        .put_stream("a/b.bin", stream::iter(chunks(&[2; 10])), u64::MAX, false)
        .await
        .unwrap();

    assert_eq!(
        storage.get("a/b.bin").await.unwrap().unwrap().as_ref(),
        &[2; 10]
    );
    assert_eq!(files_under(dir.path()).len(), 1);
}

#[tokio::test]
async fn empty_body_stores_an_empty_object() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);

    let stored = storage
        .put_stream("empty", stream::iter(chunks(&[])), u64::MAX, true)
        .await
        .unwrap();

    assert_eq!(stored.size, 0);
    assert_eq!(storage.size("empty").await.unwrap(), Some(0));
}

#[tokio::test]
async fn failed_body_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    let bytes = random_bytes(LARGE);
    let body = stream::iter(chunks(&bytes)).chain(stream::once(async {
        Err(std::io::Error::other("the client went away"))
    }));

    let error = storage
        .put_stream("x/y.bin", body, u64::MAX, false)
        .await
        .unwrap_err();

    assert!(
        matches!(&error, PutStreamError::Body(message) if message.contains("went away")),
        "{error}"
    );
    assert_eq!(storage.size("x/y.bin").await.unwrap(), None);
    assert!(files_under(dir.path()).is_empty());
    assert!(
        !dir.path().join("x").exists(),
        "no directory is made for an object never published"
    );
}

#[tokio::test]
async fn body_over_the_limit_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    let bytes = random_bytes(LARGE);

    let error = storage
        .put_stream("x/y.bin", stream::iter(chunks(&bytes)), 10 << 20, false)
        .await
        .unwrap_err();

    assert!(
        matches!(error, PutStreamError::TooLarge { limit } if limit == 10 << 20),
        "{error}"
    );
    assert!(files_under(dir.path()).is_empty());
}

/// Returns a body that sends `bytes` and then stalls forever, as a stuck client.
fn stalling(bytes: &[u8]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + use<> {
    stream::iter(chunks(bytes)).chain(stream::pending())
}

#[tokio::test]
async fn dropped_write_removes_its_staging_file() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    let bytes = random_bytes(LARGE);

    let write = storage.put_stream("x/y.bin", stalling(&bytes), u64::MAX, false);
    // The request is cancelled while the body stalls, as when its client disconnects.
    let timed_out = tokio::time::timeout(Duration::from_millis(500), write).await;
    assert!(timed_out.is_err(), "the write waits for the stalled body");

    eventually(
        Duration::from_secs(5),
        "the staging file's removal",
        || async { files_under(dir.path()).is_empty().then_some(()) },
    )
    .await;
    assert_eq!(storage.size("x/y.bin").await.unwrap(), None);
}

#[tokio::test]
async fn concurrent_writes_leave_one_object() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    let first = random_bytes(LARGE);
    let second = random_bytes(LARGE / 2);

    let (a, b) = tokio::join!(
        storage.put_stream("same/key", stream::iter(chunks(&first)), u64::MAX, false),
        storage.put_stream("same/key", stream::iter(chunks(&second)), u64::MAX, false),
    );
    a.unwrap();
    b.unwrap();

    let back = storage.get("same/key").await.unwrap().unwrap();
    assert!(
        back.as_ref() == &first[..] || back.as_ref() == &second[..],
        "the object is one of the two writes, whole"
    );
    assert_eq!(files_under(dir.path()).len(), 1);
}

#[tokio::test]
async fn write_creates_directories_again_after_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    storage
        .put_stream("deep/er/one", stream::iter(chunks(b"1")), u64::MAX, false)
        .await
        .unwrap();
    // Deleting the only object removes the directories it leaves empty.
    storage.delete("deep/er/one").await.unwrap();
    assert!(!dir.path().join("deep").exists());

    storage
        .put_stream("deep/er/two", stream::iter(chunks(b"2")), u64::MAX, false)
        .await
        .unwrap();

    assert_eq!(
        storage.get("deep/er/two").await.unwrap().unwrap().as_ref(),
        b"2"
    );
}

#[tokio::test]
async fn clean_up_removes_stale_upload_files() {
    let app = TestApp::spawn().await;
    // Local storage's staging files, and the spooled bodies of multipart uploads.
    let spool = app.state.settings.data_dir.join("tmp");
    std::fs::create_dir_all(&spool).unwrap();
    let dirs = [app.dir.path().join("files/.staging"), spool];
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    for dir in &dirs {
        // What writes cut off by a crash leave: one two days ago, one just now.
        std::fs::write(dir.join("old"), b"partial").unwrap();
        std::fs::write(dir.join("fresh"), b"partial").unwrap();
        std::fs::File::options()
            .write(true)
            .open(dir.join("old"))
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
        // A directory there is skipped without stopping the clean-up.
        std::fs::create_dir(dir.join("stray")).unwrap();
    }

    openhumans::jobs::clean_up(&app.state).await.unwrap();

    for dir in &dirs {
        let name = dir.display();
        assert!(
            !dir.join("old").exists(),
            "the stale file in {name} is removed"
        );
        assert!(dir.join("stray").is_dir(), "{name}");
        assert!(
            dir.join("fresh").exists(),
            "a file still being written in {name} is kept"
        );
    }
}
