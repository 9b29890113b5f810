//! The read queries that run on the calling thread on SQLite (`openhumans::db::read`).
//! The same SQL and row types return the same rows on both backends, and the SQLite
//! connections they use are read-only and keep their query plans.

use openhumans::db::Db;
use openhumans::db::read::Read;

use crate::support::SharedDatabase;

openhumans::read_row! {
    /// Fields deliberately in another order than the select lists below.
    #[derive(Debug, PartialEq, Eq)]
    struct Named {
        label: Option<String>,
        id: i64,
    }
}

/// Creates a table with three rows through the ordinary sqlx pool, so that the reads
/// below also show that they see what another connection committed.
async fn seeded(db: &Db) {
    sqlx::query("CREATE TABLE read_path_rows (id BIGINT PRIMARY KEY, label TEXT)")
        .execute(&db.pool)
        .await
        .expect("creating the table");
    for (id, label) in [(1_i64, Some("one")), (2, None), (3, Some("three"))] {
        sqlx::query("INSERT INTO read_path_rows (id, label) VALUES ($1, $2)")
            .bind(id)
            .bind(label)
            .execute(&db.pool)
            .await
            .expect("inserting a row");
    }
}

#[tokio::test]
async fn read_decodes_rows_by_column_name() {
    let shared = SharedDatabase::create().await;
    let db = shared.connect().await;
    seeded(&db).await;

    let rows: Vec<Named> = Read::new("SELECT id, label FROM read_path_rows ORDER BY id")
        .fetch_all(&db)
        .await
        .expect("reading every row");
    assert_eq!(
        rows,
        vec![
            Named {
                label: Some("one".into()),
                id: 1
            },
            Named { label: None, id: 2 },
            Named {
                label: Some("three".into()),
                id: 3
            },
        ]
    );

    // A placeholder used twice, and placeholders that appear out of their numeric
    // order, bind by number.
    let row: Option<Named> =
        Read::new("SELECT label, id FROM read_path_rows WHERE id > $2 AND id < $1 AND id <> $2")
            .bind(3_i64)
            .bind(1_i64)
            .fetch_optional(&db)
            .await
            .expect("reading one row");
    assert_eq!(row, Some(Named { label: None, id: 2 }));

    let text: Option<Named> = Read::new("SELECT id, label FROM read_path_rows WHERE label = $1")
        .bind("three")
        .fetch_optional(&db)
        .await
        .expect("reading by text");
    assert_eq!(text.map(|row| row.id), Some(3));

    let none: Option<Named> = Read::new("SELECT id, label FROM read_path_rows WHERE id = $1")
        .bind(99_i64)
        .fetch_optional(&db)
        .await
        .expect("reading a missing row");
    assert_eq!(none, None);

    // fetch_optional gives the first row of several.
    let first: Option<(i64,)> = Read::new("SELECT id FROM read_path_rows ORDER BY id DESC")
        .fetch_optional(&db)
        .await
        .expect("reading the first of several rows");
    assert_eq!(first, Some((3,)));
}

#[tokio::test]
async fn read_missing_column_or_value_fails() {
    let shared = SharedDatabase::create().await;
    let db = shared.connect().await;
    seeded(&db).await;

    let missing_column = Read::new("SELECT id FROM read_path_rows")
        .fetch_all::<Named>(&db)
        .await;
    assert!(missing_column.is_err(), "{missing_column:?}");

    let missing_value = Read::new("SELECT id FROM read_path_rows WHERE id = $1")
        .fetch_all::<(i64,)>(&db)
        .await;
    assert!(missing_value.is_err(), "{missing_value:?}");
}

/// Opens a SQLite database of its own, whatever backend the other tests run on,
/// because these tests are about the SQLite connections.
async fn sqlite() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("read.db").display());
    let db = Db::connect(&url).await.expect("opening SQLite");
    db.migrate().await.expect("migrating");
    (dir, db)
}

#[tokio::test]
async fn read_connections_reject_writes() {
    let (_dir, db) = sqlite().await;
    seeded(&db).await;

    let write = Read::new("DELETE FROM read_path_rows RETURNING id")
        .fetch_all::<(i64,)>(&db)
        .await;
    let error = write.expect_err("a read connection deleted rows");
    assert!(error.to_string().contains("readonly"), "{error}");

    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM read_path_rows")
        .fetch_one(&db.pool)
        .await
        .expect("counting");
    assert_eq!(count, 3);
}

#[tokio::test]
async fn sqlite_build_keeps_query_plans() {
    let (_dir, db) = sqlite().await;
    // Both drivers link the same SQLite, built with the options in .cargo/config.toml.
    // Without them every cached statement that binds a LIMIT or a range is planned
    // again on each use, which cost the project API most of its throughput.
    for option in ["ENABLE_QPSG", "DEFAULT_MEMSTATUS=0"] {
        let sql = format!("SELECT sqlite_compileoption_used('{option}')");
        let through_read: Option<(i64,)> = Read::new(sql.clone())
            .fetch_optional(&db)
            .await
            .expect("asking SQLite");
        assert_eq!(through_read, Some((1,)), "{option} on the read connections");
        let (through_sqlx,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&db.pool)
            .await
            .expect("asking SQLite through sqlx");
        assert_eq!(through_sqlx, 1, "{option} on the sqlx connections");
    }
}

#[tokio::test]
async fn read_follows_sqlx_database_path() {
    // sqlx percent-decodes the path of a `sqlite://` URL, so the read connections must
    // open the same decoded file, not a new empty one.
    // The missing directory is created under its decoded name too.
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let url = format!("sqlite://{}/new%20dir/read%20path.db", dir.path().display());
    let db = Db::connect(&url).await.expect("opening SQLite");
    db.migrate().await.expect("migrating");
    seeded(&db).await;
    assert!(dir.path().join("new dir/read path.db").exists());
    assert!(!dir.path().join("new%20dir").exists());

    let rows: Vec<(i64,)> = Read::new("SELECT id FROM read_path_rows ORDER BY id")
        .fetch_all(&db)
        .await
        .expect("reading through the decoded path");
    assert_eq!(rows, vec![(1,), (2,), (3,)]);
}

#[tokio::test]
async fn in_memory_sqlite_urls_rejected() {
    for url in [
        "sqlite::memory:",
        "sqlite://:memory:",
        "sqlite:",
        "sqlite://file::memory:?cache=shared",
        "sqlite://data.db?mode=memory",
    ] {
        let error = match Db::connect(url).await {
            Ok(_) => panic!("{url} was accepted"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains("names no file"), "{url}: {error}");
        assert!(
            error.contains("sqlite://data/openhumans.db"),
            "{url}: {error}"
        );
    }
}
