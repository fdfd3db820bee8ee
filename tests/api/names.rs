//! Names a person reads (issue 8 #13): no hidden or direction-changing
//! characters, NFC, and user names that cannot pass for one another or for
//! the system administrator.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn names_with_hidden_or_direction_changing_characters_are_refused() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    for name in [
        "pay\u{202E}lapyap",
        "billing\u{200B}",
        "\u{FEFF}ledger",
        "x\u{2066}y\u{2069}",
        "two\u{2028}lines",
        "\u{3164}",
        "tag\u{E0041}",
    ] {
        app.post(
            &format!("/v1/tenants/{tenant}/keys"),
            &app.admin,
            json!({ "name": name }),
        )
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    }
    let reply = app
        .post(
            &format!("/v1/tenants/{tenant}/users"),
            &app.admin,
            json!({ "name": "Eve", "email": "eve\u{200B}@example.com", "roles": ["viewer"] }),
        )
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    assert!(
        reply.json["detail"].as_str().unwrap().contains("U+200B"),
        "{}",
        reply.text
    );
    app.post(
        "/v1/tenants",
        &app.admin,
        json!({ "id": "spoof", "name": "ACME\u{202E}" }),
    )
    .await
    .expect_problem(422, "VALIDATION_FAILED");
}

#[tokio::test]
async fn names_are_stored_in_nfc() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let key = app
        .create_key(&tenant, &app.admin, json!({ "name": "cafe\u{301}" }))
        .await;
    let read = app.get_key(&tenant, &key.id).await.expect(200);
    assert_eq!(read.json["name"], "caf\u{e9}");
}

#[tokio::test]
async fn a_user_name_is_unique_in_its_tenant_and_never_the_administrators() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let other = app.enabled_tenant("globex").await;
    let ana = app.create_user(&tenant, "Ana", &["developer"], true).await;
    let users = format!("/v1/tenants/{tenant}/users");
    for (name, email) in [
        ("ana", "ana2@example.com"),
        ("ANA", "ana3@example.com"),
        ("\u{410}na", "ana4@example.com"), // Cyrillic А
        ("admin", "admin@example.com"),
        ("\u{FF21}dmin", "admin2@example.com"), // fullwidth A
    ] {
        let reply = app
            .post(
                &users,
                &app.admin,
                json!({ "name": name, "email": email, "roles": ["viewer"] }),
            )
            .await
            .expect_problem(409, "USER_NAME_TAKEN");
        assert!(!reply.text.contains("token"), "{}", reply.text);
    }
    // Another tenant may have its own Ana.
    app.create_user(&other, "Ana", &["developer"], true).await;
    // A rename into a taken name is refused too.
    let bo = app.create_user(&tenant, "Bo", &["developer"], true).await;
    app.patch(
        &format!("{users}/{}", bo.id),
        &app.admin,
        json!({ "name": "Ana" }),
    )
    .await
    .expect_problem(409, "USER_NAME_TAKEN");
    // Renaming a user to their own name in another case is fine.
    app.patch(
        &format!("{users}/{}", ana.id),
        &app.admin,
        json!({ "name": "ANA" }),
    )
    .await
    .expect(200);
}
