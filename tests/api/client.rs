//! The typed client (`keydesk::client`) against the real server: a read-only
//! client sends nothing that changes anything, its errors read as sentences,
//! and the calls the console's views need do what the API does.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keydesk::api;
use keydesk::client::{Client, ClientError, ClientResult, KeyListQuery};
use keydesk::domain::{KeySort, Role, SortField};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// What a read-only client is asked to do: every client method that could
/// change a key, a setting, a tenant, a user or a token.
struct Targets<'a> {
    tenant: &'a str,
    key: &'a str,
    user: &'a str,
}

async fn every_mutation(client: &Client, t: &Targets<'_>) -> Vec<(&'static str, ClientResult<()>)> {
    fn done<T>(result: ClientResult<T>) -> ClientResult<()> {
        result.map(|_| ())
    }
    let new_key = api::CreateKey {
        name: "sneaky".to_owned(),
        description: String::new(),
        scopes: Vec::new(),
        owner: None,
        expires_at: None,
    };
    let rename = api::UpdateKey {
        name: Some("renamed".to_owned()),
        ..api::UpdateKey::default()
    };
    let switch_off = api::UpdateSettings {
        api_keys_enabled: Some(false),
        ..api::UpdateSettings::default()
    };
    let tenant = api::CreateTenant {
        id: "other".to_owned(),
        name: "Other".to_owned(),
        settings: None,
    };
    let user = api::CreateUser {
        name: "Eve".to_owned(),
        email: "eve@example.com".to_owned(),
        roles: vec![Role::TenantAdmin],
        licensed: true,
    };
    let promote = api::UpdateUser {
        roles: Some(vec![Role::TenantAdmin, Role::Developer]),
        ..api::UpdateUser::default()
    };
    let (tenant_id, key, id) = (t.tenant, t.key, t.user);
    vec![
        (
            "create_key",
            done(client.create_key(tenant_id, &new_key).await),
        ),
        (
            "update_key",
            done(client.update_key(tenant_id, key, &rename, None).await),
        ),
        (
            "disable_key",
            done(client.disable_key(tenant_id, key).await),
        ),
        ("enable_key", done(client.enable_key(tenant_id, key).await)),
        ("revoke_key", done(client.revoke_key(tenant_id, key).await)),
        (
            "regenerate_key",
            done(client.regenerate_key(tenant_id, key).await),
        ),
        (
            "duplicate_key",
            done(
                client
                    .duplicate_key(tenant_id, key, &api::DuplicateKey::default())
                    .await,
            ),
        ),
        ("delete_key", done(client.delete_key(tenant_id, key).await)),
        (
            "update_settings",
            done(client.update_settings(tenant_id, &switch_off, None).await),
        ),
        ("create_tenant", done(client.create_tenant(&tenant).await)),
        (
            "create_user",
            done(client.create_user(tenant_id, &user).await),
        ),
        (
            "update_user",
            done(client.update_user(tenant_id, id, &promote).await),
        ),
        (
            "rotate_user_token",
            done(client.rotate_user_token(tenant_id, id).await),
        ),
        (
            "revoke_user_token",
            done(client.revoke_user_token(tenant_id, id).await),
        ),
        (
            "disable_user",
            done(client.disable_user(tenant_id, id).await),
        ),
        ("enable_user", done(client.enable_user(tenant_id, id).await)),
        ("delete_user", done(client.delete_user(tenant_id, id).await)),
        ("rotate_own_token", done(client.rotate_own_token().await)),
        (
            "rotate_key",
            done(client.rotate_key(tenant_id, key, 3600).await),
        ),
        (
            "end_rotation",
            done(client.end_rotation(tenant_id, key).await),
        ),
        (
            "bulk_revoke",
            done(
                client
                    .bulk_revoke(
                        tenant_id,
                        &api::BulkRevoke {
                            ids: Some(vec![key.to_owned()]),
                            ..api::BulkRevoke::default()
                        },
                    )
                    .await,
            ),
        ),
    ]
}

#[track_caller]
fn assert_all_refused_as_read_only(results: &[(&str, ClientResult<()>)]) {
    assert_eq!(results.len(), 21);
    for (call, result) in results {
        match result {
            Err(err @ ClientError::ReadOnly { .. }) => {
                assert_eq!(err.to_string(), "read-only session: nothing was sent");
            }
            other => panic!("{call}: expected a read-only refusal, got {other:?}"),
        }
    }
}

/// Everything a mutation could change, as the system administrator reads it.
async fn state_of(app: &TestApp, tenant: &str) -> Value {
    let users = app
        .get(&format!("/v1/tenants/{tenant}/users"), &app.admin)
        .await
        .expect(200);
    json!({
        "keys": app.list_keys(tenant, "limit=1000").await["items"],
        "settings": app.settings(tenant).await.json,
        "tenants": app.get("/v1/tenants", &app.admin).await.expect(200).json,
        "users": users.json,
        "events": app.events(tenant, "").await,
    })
}

#[tokio::test]
async fn a_read_only_client_sends_nothing_that_changes_anything() {
    let app = spawn_app().await;
    let tenant = "acme";
    app.create_tenant(
        tenant,
        json!({ "api_keys_enabled": true, "secret_retrieval": "admins" }),
    )
    .await;
    let admin = app
        .create_user(tenant, "Ana", &["tenant_admin", "developer"], true)
        .await;
    let key = app.key_for(tenant, &admin.id, "billing").await;
    let targets = Targets {
        tenant,
        key: &key.id,
        user: &admin.id,
    };
    let before = state_of(&app, tenant).await;

    // As the system administrator, who may do all of it: only read-only stops it.
    let client = Client::new(&app.base, &app.admin).unwrap().readonly(true);
    assert_all_refused_as_read_only(&every_mutation(&client, &targets).await);
    assert_eq!(state_of(&app, tenant).await, before, "nothing changed");
    app.get("/v1/me", &app.admin).await.expect(200);
    app.get("/v1/me", &admin.token).await.expect(200);

    // Reading, verifying and revealing still work.
    let tenant_admin = Client::new(&app.base, &admin.token).unwrap().readonly(true);
    assert_eq!(tenant_admin.me().await.unwrap().user.id, admin.id);
    let listed = tenant_admin
        .list_keys(tenant, &KeyListQuery::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(tenant_admin.settings(tenant).await.unwrap().version, 1);
    assert!(!tenant_admin.users(tenant).await.unwrap().items.is_empty());
    assert!(tenant_admin.verify(&key.secret, None).await.unwrap().valid);
    let revealed = tenant_admin.reveal_key(tenant, &key.id).await.unwrap();
    assert_eq!(revealed.secret, key.secret);
    assert_eq!(
        app.events(tenant, "action=key.secret_revealed").await.len(),
        1,
        "the reveal reached the server"
    );
}

#[tokio::test]
async fn a_read_only_client_opens_no_connection_for_a_mutation() {
    // A bare listener that counts connections and answers none.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    let client = Client::new(&format!("http://{address}"), "kdm_token")
        .unwrap()
        .readonly(true);
    let targets = Targets {
        tenant: "acme",
        key: "key_01",
        user: "usr_01",
    };
    assert_all_refused_as_read_only(&every_mutation(&client, &targets).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(connections.load(Ordering::SeqCst), 0, "no request was sent");

    // The listener does count: a read connects.
    assert!(client.me().await.is_err());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(connections.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn a_refused_token_and_a_stale_settings_write_read_as_sentences() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let stranger = Client::new(&app.base, "kdm_not_a_token").unwrap();
    let err = stranger.me().await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(err.to_string(), "the server refused the token");

    let client = Client::new(&app.base, &app.admin).unwrap();
    let read = client.settings(&tenant).await.unwrap();
    let five = api::UpdateSettings {
        max_keys_per_user: Some(Some(5)),
        ..api::UpdateSettings::default()
    };
    let written = client
        .update_settings(&tenant, &five, Some(read.version))
        .await
        .unwrap();
    assert_eq!(written.max_keys_per_user, Some(5));
    let fifty = api::UpdateSettings {
        max_keys_per_user: Some(Some(50)),
        ..api::UpdateSettings::default()
    };
    let err = client
        .update_settings(&tenant, &fifty, Some(read.version))
        .await
        .unwrap_err();
    let ClientError::Api(problem) = &err else {
        panic!("expected the server's problem, got {err:?}");
    };
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (412, "PRECONDITION_FAILED")
    );
    assert!(!err.is_unauthorized() && !err.is_transient());
    assert!(
        err.to_string().ends_with(" (PRECONDITION_FAILED)") && err.to_string().len() > 30,
        "{err}"
    );
    assert_eq!(
        client.settings(&tenant).await.unwrap(),
        written,
        "nothing changed"
    );

    let missing = client.key(&tenant, "key_nope").await.unwrap_err();
    assert_eq!(missing.to_string(), "key not found (NOT_FOUND)");
}

#[tokio::test]
async fn a_tenant_admin_grants_themself_the_developer_role_and_rotates_tokens_through_the_client() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let admin = app
        .create_user(&tenant, "Ana", &["tenant_admin"], true)
        .await;
    let other = app.create_user(&tenant, "Bo", &["developer"], true).await;
    let client = Client::new(&app.base, &admin.token).unwrap();
    let first = api::CreateKey {
        name: "first".to_owned(),
        description: String::new(),
        scopes: Vec::new(),
        owner: None,
        expires_at: None,
    };
    let refused = client.create_key(&tenant, &first).await.unwrap_err();
    assert_eq!(refused.code(), Some("FORBIDDEN"));

    let promote = api::UpdateUser {
        roles: Some(vec![Role::TenantAdmin, Role::Developer]),
        ..api::UpdateUser::default()
    };
    let me = client
        .update_user(&tenant, &admin.id, &promote)
        .await
        .unwrap();
    assert_eq!(me.roles, vec![Role::Developer, Role::TenantAdmin]);
    let created = client.create_key(&tenant, &first).await.unwrap();
    assert_eq!(created.key.owner.id.as_str(), admin.id);

    // Another user's token: the admin may not replace it, only take it
    // away; then they issue one to hand over.
    let refused = client
        .rotate_user_token(&tenant, &other.id)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("USER_HAS_TOKEN"));
    client.revoke_user_token(&tenant, &other.id).await.unwrap();
    let old = Client::new(&app.base, &other.token).unwrap();
    assert!(old.me().await.unwrap_err().is_unauthorized());
    let issued = client.rotate_user_token(&tenant, &other.id).await.unwrap();
    assert_eq!(issued.user.id, other.id);
    let new = Client::new(&app.base, &issued.token).unwrap();
    assert_eq!(new.me().await.unwrap().user.id, other.id);

    // Disabled, the user is refused; enabled, welcome again; deleted, gone.
    let disabled = client.disable_user(&tenant, &other.id).await.unwrap();
    assert!(disabled.disabled);
    assert_eq!(new.me().await.unwrap_err().code(), Some("USER_DISABLED"));
    assert!(
        !client
            .enable_user(&tenant, &other.id)
            .await
            .unwrap()
            .disabled
    );
    assert_eq!(new.me().await.unwrap().user.id, other.id);
    client.delete_user(&tenant, &other.id).await.unwrap();
    assert!(new.me().await.unwrap_err().is_unauthorized());
    let users = client.users(&tenant).await.unwrap();
    assert!(users.items.iter().all(|u| u.id != other.id));

    // The caller's own token.
    let mine = client.rotate_own_token().await.unwrap();
    assert!(client.me().await.unwrap_err().is_unauthorized());
    let renewed = Client::new(&app.base, &mine.token).unwrap();
    assert_eq!(renewed.me().await.unwrap().user.id, admin.id);
}

#[tokio::test]
async fn the_client_lists_keys_in_the_sort_it_asks_for() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let owner = app.admin_id().await;
    for name in ["bravo", "alpha", "charlie"] {
        app.key_for(&tenant, &owner, name).await;
        // Creation times a few milliseconds apart, so "created" has one order.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let client = Client::new(&app.base, &app.admin).unwrap();
    let names = |list: api::KeyList| list.items.into_iter().map(|k| k.name).collect::<Vec<_>>();
    for (reversed, expected) in [
        (false, ["alpha", "bravo", "charlie"]),
        (true, ["charlie", "bravo", "alpha"]),
    ] {
        let query = KeyListQuery {
            sort: Some(KeySort {
                field: SortField::Name,
                reversed,
            }),
            ..KeyListQuery::default()
        };
        let listed = client.list_keys(&tenant, &query).await.unwrap();
        assert_eq!(names(listed), expected, "reversed: {reversed}");
    }
    let newest_first = KeyListQuery {
        sort: KeySort::parse("created"),
        ..KeyListQuery::default()
    };
    let listed = client.list_keys(&tenant, &newest_first).await.unwrap();
    assert_eq!(names(listed), ["charlie", "alpha", "bravo"]);
}
