//! The database vanishing under a running server: no connection creates an
//! empty one in its place, every request that needs it answers 503
//! problem+json, and `/readyz` says so (while `/healthz`, which only asks
//! whether the process answers, stays 200).

use reqwest::Method;

use crate::helpers::{Reply, TestApp, assert_problem_shape, spawn_app};

/// Sends without the suite's "no 5xx" check: 503 is what is expected here.
async fn send(app: &TestApp, method: Method, path: &str) -> Reply {
    let response = app
        .request(method, path, Some(&app.admin))
        .send()
        .await
        .unwrap();
    Reply::read(response).await
}

#[track_caller]
fn assert_unavailable(what: &str, reply: &Reply) {
    assert_eq!(reply.status, 503, "{what}: {}", reply.text);
    assert_problem_shape(reply);
    assert_eq!(reply.code(), "STORE_UNAVAILABLE", "{what}: {}", reply.text);
}

#[tokio::test]
async fn a_deleted_database_makes_the_server_unready_and_is_never_recreated() {
    if crate::backend::skip_unless_sqlite("deletes the SQLite database file") {
        return;
    }
    let app = spawn_app().await;
    app.enabled_tenant("acme").await;
    let ready = send(&app, Method::GET, "/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);

    let database = app.data_dir.join("keydesk.db");
    std::fs::remove_file(&database).unwrap();

    assert_unavailable("/readyz", &send(&app, Method::GET, "/readyz").await);
    assert_eq!(send(&app, Method::GET, "/healthz").await.status, 200);
    // Enough reads at once that new reader connections are opened.
    let reads = (0..24).map(|_| send(&app, Method::GET, "/v1/tenants/acme/keys"));
    for reply in futures::future::join_all(reads).await {
        assert_unavailable("a key list", &reply);
    }
    let write = app
        .request(Method::POST, "/v1/tenants/acme/keys", Some(&app.admin))
        .json(&serde_json::json!({ "name": "lost" }))
        .send()
        .await
        .unwrap();
    assert_unavailable("a creation", &Reply::read(write).await);
    assert!(
        !database.exists(),
        "a connection created an empty database in place of the deleted one"
    );
}

/// PostgreSQL's counterpart: the database goes away under a running server
/// (its connections ended, its name gone), every request that needs it
/// answers 503 and `/readyz` says so; when it is back, the server recovers
/// without a restart.
#[tokio::test]
async fn a_postgres_database_that_goes_away_answers_503_and_is_used_again_when_back() {
    if crate::backend::skip_unless_postgres("takes a PostgreSQL database away") {
        return;
    }
    let app = spawn_app().await;
    app.enabled_tenant("acme").await;
    let url = crate::backend::existing_database(&app.data_dir).unwrap();
    let name = url.rsplit('/').next().unwrap().to_owned();
    let admin = crate::backend::cluster().url("postgres");
    let rename = |from: String, to: String| {
        crate::backend::on_the_side(admin.clone(), move |client| async move {
            client
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                    &[&from],
                )
                .await
                .unwrap();
            client
                .batch_execute(&format!("ALTER DATABASE {from} RENAME TO {to}"))
                .await
                .unwrap();
        });
    };
    rename(name.clone(), format!("{name}_away"));

    assert_unavailable("/readyz", &send(&app, Method::GET, "/readyz").await);
    assert_eq!(send(&app, Method::GET, "/healthz").await.status, 200);
    let reads = (0..4).map(|_| send(&app, Method::GET, "/v1/tenants/acme/keys"));
    for reply in futures::future::join_all(reads).await {
        assert_unavailable("a key list", &reply);
    }

    rename(format!("{name}_away"), name);
    let ready = send(&app, Method::GET, "/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    app.key_for("acme", &app.admin_id().await, "after").await;
}

/// A PostgreSQL URL that reaches no server stops the start with a message
/// that names the host and port, and never the password.
#[tokio::test]
async fn an_unreachable_postgres_database_stops_the_start_naming_the_host_not_the_password() {
    let data = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let config = keydesk::server::ServeConfig {
        database: Some(format!(
            "postgres://keydesk:s3cret-pa55@127.0.0.1:{port}/keydesk"
        )),
        ..crate::helpers::serve_config(data.path())
    };
    let Err(err) = keydesk::server::prepare(&config).await else {
        panic!("a server started without its database");
    };
    let message = format!("{err:#}");
    assert!(
        message.contains(&format!("127.0.0.1:{port}/keydesk")),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}
