//! The private PostgreSQL cluster trusts no TCP client, and its socket directory is
//! private even when the data directory's path is too long for a socket.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

use diesel::QueryableByName;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use imagegraph_db::local_cluster::{LocalCluster, Options};

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_cluster_listens_on_a_private_socket_only() {
    let scratch = tempfile::tempdir().unwrap();
    // Reachable by the `postgres` user when the tests run as root.
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = scratch.path().join("d".repeat(100));
    let mut cluster = tokio::task::spawn_blocking({
        let root = root.clone();
        move || LocalCluster::start(&root, Options { ephemeral: true })
    })
    .await
    .unwrap()
    .unwrap();
    let url = cluster.url("postgres");
    let socket_dir = std::path::PathBuf::from(
        url::Url::parse(&url)
            .unwrap()
            .query_pairs()
            .find(|(key, _)| key == "host")
            .unwrap()
            .1
            .into_owned(),
    );
    assert!(
        socket_dir.starts_with(std::env::temp_dir()) && !socket_dir.starts_with(&root),
        "the root is too long for a socket: {}",
        socket_dir.display()
    );
    let meta = std::fs::symlink_metadata(&socket_dir).unwrap();
    assert!(meta.is_dir() && !meta.file_type().is_symlink());
    assert_eq!(meta.mode() & 0o7777, 0o700);
    assert_eq!(
        meta.uid(),
        std::fs::metadata(root.join("data")).unwrap().uid(),
        "owned by the server's user"
    );

    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    // The URL reaches this cluster over its socket, not whatever listens on localhost.
    let over: Setting = diesel::sql_query(
        "SELECT coalesce(host(inet_server_addr()), 'unix socket') || ' ' || current_setting('data_directory') AS value",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        over.value,
        format!("unix socket {}", root.join("data").display())
    );
    let listen: Setting = diesel::sql_query(
        "SELECT setting AS value FROM pg_settings WHERE name = 'listen_addresses'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(listen.value, "", "no TCP socket at all");
    let rules: Vec<Setting> =
        diesel::sql_query("SELECT type AS value FROM pg_hba_file_rules ORDER BY line_number")
            .load(&mut conn)
            .await
            .unwrap();
    let kinds: Vec<&str> = rules.iter().map(|rule| rule.value.as_str()).collect();
    assert_eq!(kinds, ["local"], "pg_hba.conf trusts the socket only");
    let conf = std::fs::read_to_string(root.join("data/postgresql.conf")).unwrap();
    assert_eq!(
        conf.lines()
            .rfind(|line| line.trim_start().starts_with("listen_addresses")),
        Some("listen_addresses = ''"),
        "however the server is started"
    );
    drop(conn);

    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap();
    assert!(
        !socket_dir.exists(),
        "the private socket directory goes with the server"
    );
}
