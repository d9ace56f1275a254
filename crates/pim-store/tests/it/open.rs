//! Opening: connection settings, migrations, idempotence.

use super::*;
use pim_store::{Backend, StoreError};
use sqlx::Row as _;

both!(migrations_are_recorded_and_idempotent, |db| {
    let again = db.reopen().await;
    again.close().await;
    let mut c = db.conn().await;
    let rows = sqlx::query("SELECT version FROM schema_migrations ORDER BY version").fetch_all(&mut *c).await.unwrap();
    let versions: Vec<i64> = rows.iter().map(|r| r.try_get::<i64, _>(0).unwrap()).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
    db.store.ping().await.unwrap();

    // A schema newer than this build is refused rather than misused.
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)")
        .execute(&mut *c)
        .await
        .unwrap();
    drop(c);
    let err = Store::open(&db.url).await.unwrap_err();
    assert!(matches!(&err, StoreError::Migration(m) if m.contains("9999")), "{err:?}");
});

#[tokio::test]
async fn sqlite_connections_are_durable_and_enforce_foreign_keys() {
    let db = TestDb::sqlite().await;
    assert_eq!(db.store.backend(), Backend::Sqlite);
    let mut c = db.conn().await;
    let text = |r: sqlx::any::AnyRow| r.try_get::<String, _>(0).unwrap();
    let int = |r: sqlx::any::AnyRow| r.try_get::<i64, _>(0).unwrap();
    let q = |s: &'static str| sqlx::query(s);
    assert_eq!(text(q("PRAGMA journal_mode").fetch_one(&mut *c).await.unwrap()), "wal");
    assert_eq!(int(q("PRAGMA synchronous").fetch_one(&mut *c).await.unwrap()), 2, "FULL");
    assert_eq!(int(q("PRAGMA foreign_keys").fetch_one(&mut *c).await.unwrap()), 1);
    assert_eq!(int(q("PRAGMA busy_timeout").fetch_one(&mut *c).await.unwrap()), 5000);
    drop(c);
    db.finish().await;
}

#[tokio::test]
async fn sqlite_write_transactions_run_on_one_connection_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("pim.db").display());
    let options = pim_store::StoreOptions { max_connections: 2, acquire_timeout: std::time::Duration::from_secs(2) };
    let store = Store::open_with(&url, &options).await.unwrap();
    let now = Timestamp(1_767_603_600_000);
    // Every read connection held: a write transaction still begins (it is not taken from them).
    let (r1, r2) = (store.read().await.unwrap(), store.read().await.unwrap());
    let mut tx = store.write(now).await.unwrap();
    let int = |r: sqlx::any::AnyRow| r.try_get::<i64, _>(0).unwrap();
    let c = tx.conn();
    assert_eq!(int(sqlx::query("PRAGMA synchronous").fetch_one(&mut *c).await.unwrap()), 2, "FULL");
    assert_eq!(int(sqlx::query("PRAGMA foreign_keys").fetch_one(&mut *c).await.unwrap()), 1);
    assert_eq!(int(sqlx::query("PRAGMA busy_timeout").fetch_one(&mut *c).await.unwrap()), 5000);
    // A temporary table lives on its connection only: the next write transaction sees it.
    sqlx::query("CREATE TEMP TABLE write_probe (x INTEGER)").execute(&mut *c).await.unwrap();
    tx.commit().await.unwrap();
    drop((r1, r2));
    for _ in 0..3 {
        let mut tx = store.write(now).await.unwrap();
        let n = int(sqlx::query("SELECT count(*) FROM temp.write_probe").fetch_one(tx.conn()).await.unwrap());
        assert_eq!(n, 0);
        tx.commit().await.unwrap();
    }
    store.close().await;
}

#[tokio::test]
async fn in_memory_sqlite_urls_are_refused_with_a_reason() {
    // Each pooled connection (and the write connection) would be an empty database of its own.
    for url in ["sqlite::memory:", "sqlite://file:pim?mode=memory&cache=shared"] {
        let err = Store::open(url).await.unwrap_err();
        assert!(matches!(&err, StoreError::Config(m) if m.contains("in-memory")), "{url}: {err:?}");
    }
}

#[tokio::test]
async fn unknown_url_schemes_are_refused() {
    let err = Store::open("mysql://localhost/pim").await.unwrap_err();
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
}

both!(every_foreign_key_has_an_index_on_its_child_column, |db| {
    // A foreign key's check searches the child table (SQLite on every deferred check, PostgreSQL
    // when a parent key goes): without an index that is a scan of the whole table per write.
    let mut c = db.conn().await;
    let sql = match db.store.backend() {
        Backend::Sqlite => {
            "SELECT m.name || '.' || f.\"from\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table' AND NOT EXISTS (\
               SELECT 1 FROM pragma_index_list(m.name) il, pragma_index_info(il.name) ii \
               WHERE ii.seqno = 0 AND ii.name = f.\"from\") \
             AND NOT EXISTS (SELECT 1 FROM pragma_table_info(m.name) t WHERE t.pk = 1 AND t.name = f.\"from\") \
             ORDER BY 1"
        }
        Backend::Postgres => {
            "SELECT c.conrelid::regclass::text || '.' || a.attname FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace \
             AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]) \
             ORDER BY 1"
        }
    };
    let rows = sqlx::query(sql).fetch_all(&mut *c).await.unwrap();
    let unindexed: Vec<String> = rows.iter().map(|r| r.try_get::<String, _>(0).unwrap()).collect();
    assert!(unindexed.is_empty(), "foreign keys without an index on their child column: {unindexed:?}");
});
