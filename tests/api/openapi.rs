//! The OpenAPI document describes every route the server answers, and the
//! server answers every route the document describes.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/me"),
    ("GET", "/v1/tenants"),
    ("POST", "/v1/tenants"),
    ("GET", "/v1/tenants/{tenant}/settings"),
    ("PATCH", "/v1/tenants/{tenant}/settings"),
    ("GET", "/v1/tenants/{tenant}/keys"),
    ("POST", "/v1/tenants/{tenant}/keys"),
    ("GET", "/v1/tenants/{tenant}/keys/{id}"),
    ("PATCH", "/v1/tenants/{tenant}/keys/{id}"),
    ("DELETE", "/v1/tenants/{tenant}/keys/{id}"),
    ("POST", "/v1/tenants/{tenant}/keys/{id}/disable"),
    ("POST", "/v1/tenants/{tenant}/keys/{id}/enable"),
    ("POST", "/v1/tenants/{tenant}/keys/{id}/revoke"),
    ("POST", "/v1/tenants/{tenant}/keys/{id}/regenerate"),
    ("POST", "/v1/tenants/{tenant}/keys/{id}/duplicate"),
    ("POST", "/v1/tenants/{tenant}/keys/{id}/reveal"),
    ("GET", "/v1/tenants/{tenant}/events"),
    ("GET", "/v1/tenants/{tenant}/events/stream"),
    ("GET", "/v1/tenants/{tenant}/keys/{id}/usage"),
    ("GET", "/v1/tenants/{tenant}/users"),
    ("POST", "/v1/tenants/{tenant}/users"),
    ("PATCH", "/v1/tenants/{tenant}/users/{id}"),
    ("POST", "/v1/tenants/{tenant}/users/{id}/token"),
    ("POST", "/v1/me/token"),
    ("POST", "/v1/verify"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/tenants/{tenant}/keys/{id}/end-rotation"),
    ("POST", "/v1/keys/lookup"),
    ("POST", "/v1/tenants/{tenant}/keys/revoke"),
    ("GET", "/v1/tenants/{tenant}/verifiers"),
    ("POST", "/v1/tenants/{tenant}/verifiers"),
    ("DELETE", "/v1/tenants/{tenant}/verifiers/{id}"),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every (METHOD, path) the document describes.
async fn documented(app: &crate::helpers::TestApp) -> BTreeSet<(String, String)> {
    let reply = app
        .send(app.request(Method::GET, "/openapi.json", None))
        .await
        .expect(200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        reply.headers
    );
    let doc = reply.json;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn every_route_the_server_answers_is_in_the_openapi_document() {
    let app = spawn_app().await;
    let routes = documented(&app).await;
    let missing: Vec<_> = ROUTES
        .iter()
        .filter(|(m, p)| !routes.contains(&((*m).to_owned(), (*p).to_owned())))
        .collect();
    assert!(missing.is_empty(), "not documented: {missing:?}");
}

#[tokio::test]
async fn every_route_in_the_openapi_document_is_answered() {
    let app = spawn_app().await;
    app.create_tenant(
        "acme",
        json!({ "api_keys_enabled": true, "secret_retrieval": "admins" }),
    )
    .await;
    let user = app.create_user("acme", "Ana", &["developer"], true).await;
    let key = app.key_for("acme", &user.id, "k").await;
    let routes = documented(&app).await;
    assert!(routes.len() >= ROUTES.len());
    // Mutations last, delete at the very end, so every route meets a real key.
    let mut ordered: Vec<_> = routes.into_iter().collect();
    ordered.sort_by_key(|(m, p)| (m == "DELETE", p.ends_with("/revoke"), m != "GET"));
    for (method, template) in ordered {
        let id = if template.contains("/users/") {
            &user.id
        } else {
            &key.id
        };
        let path = template.replace("{tenant}", "acme").replace("{id}", id);
        assert!(!path.contains('{'), "an unfilled placeholder in {template}");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = app.request(method.clone(), &path, Some(&app.admin));
        if method == Method::POST || method == Method::PATCH {
            request = request.json(&json!({}));
        }
        if template.ends_with("/events/stream") {
            // A stream never ends: its answer is the status alone.
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{method} {template}");
            continue;
        }
        let reply = app.send(request).await;
        assert_ne!(reply.status, 405, "{method} {template}: {}", reply.text);
        assert!(
            !(reply.status == 404 && reply.detail().starts_with("no such route")),
            "{method} {template} is documented but not served: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn health_and_metrics_answer_without_a_token() {
    let app = spawn_app().await;
    let health = app
        .send(app.request(Method::GET, "/healthz", None))
        .await
        .expect(200);
    assert_eq!(health.json["status"], "ok");
    app.verify("kd_nonsense").await;
    let metrics = app
        .send(app.request(Method::GET, "/metrics", None))
        .await
        .expect(200);
    assert!(
        metrics
            .text
            .contains("keydesk_verifications_total{code=\"NOT_FOUND\"} 1"),
        "{}",
        metrics.text
    );
}

/// Issue 8 #14: the statuses any operation can answer are in the document:
/// 401 on every operation that needs a token, 413 and 415 on every one that
/// reads a body, 414 and 503 everywhere; and the server answers them as
/// documented.
#[tokio::test]
async fn every_operation_documents_the_statuses_it_can_answer_whatever_its_handler() {
    let app = spawn_app().await;
    let document = app
        .send(app.request(Method::GET, "/openapi.json", None))
        .await
        .expect(200)
        .json;
    let mut missing = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let statuses = operation["responses"].as_object().unwrap();
            let mut expected = vec!["414", "503"];
            if operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
            {
                expected.push("401");
            }
            let queried = operation["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            if queried {
                expected.push("400");
            }
            if operation.get("requestBody").is_some() {
                expected.extend(["400", "408", "413", "415"]);
            }
            for status in expected {
                if !statuses.contains_key(status) {
                    missing.push(format!("{method} {path}: {status}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");

    // Answered as documented: no token, a body not in UTF-8, a weak ETag.
    app.send(app.request(Method::GET, "/v1/me", None))
        .await
        .expect_problem(401, "UNAUTHENTICATED");
    let tenant = app.enabled_tenant("acme").await;
    let latin1 = app
        .request(
            Method::POST,
            &format!("/v1/tenants/{tenant}/keys"),
            Some(&app.admin),
        )
        .header("content-type", "application/json; charset=ISO-8859-1")
        .body(r#"{"name":"caf\u00e9"}"#);
    app.send(latin1)
        .await
        .expect_problem(415, "UNSUPPORTED_MEDIA_TYPE");
    let utf8 = app
        .request(
            Method::POST,
            &format!("/v1/tenants/{tenant}/keys"),
            Some(&app.admin),
        )
        .header("content-type", "application/json; charset=UTF-8")
        .body(r#"{"name":"cafe"}"#);
    let created = app.send(utf8).await.expect(201);
    let id = created.json["key"]["id"].as_str().unwrap().to_owned();
    let version = created.json["key"]["version"].as_i64().unwrap();
    let weak = app
        .request(
            Method::PATCH,
            &format!("/v1/tenants/{tenant}/keys/{id}"),
            Some(&app.admin),
        )
        .header("if-match", format!("W/\"{version}\""))
        .json(&json!({ "name": "weakly" }));
    app.send(weak)
        .await
        .expect_problem(412, "PRECONDITION_FAILED");
}

/// Issue 8 #14: request constraints are in the schema, so a fuzzer's
/// schema-valid request is one the server can accept.
#[tokio::test]
async fn request_bodies_and_paths_say_their_constraints() {
    let app = spawn_app().await;
    let document = app
        .send(app.request(Method::GET, "/openapi.json", None))
        .await
        .expect(200)
        .json;
    let schemas = &document["components"]["schemas"];
    assert_eq!(schemas["CreateKey"]["properties"]["name"]["maxLength"], 100);
    assert_eq!(
        schemas["CreateKey"]["properties"]["description"]["maxLength"],
        1000
    );
    assert_eq!(schemas["CreateTenant"]["properties"]["id"]["maxLength"], 63);
    assert_eq!(
        schemas["RegenerateKey"]["properties"]["grace_seconds"]["maximum"],
        604_800
    );
    assert_eq!(
        schemas["CreateUser"]["properties"]["email"]["maxLength"],
        254
    );
    let tenant = document["paths"]["/v1/tenants/{tenant}/keys"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tenant")
        .unwrap()
        .clone();
    assert_eq!(tenant["schema"]["pattern"], "^[a-z][a-z0-9-]{1,62}$");
}

/// A server-sent message is what the document describes: an object of
/// `id`, `event`, `retry` and `data`, whose `data` holds the JSON its
/// `contentSchema` names, with every field that schema requires (the
/// fuzzer validated the message against the body's schema before).
#[tokio::test]
async fn a_streamed_event_matches_the_documented_message() {
    let app = spawn_app().await;
    app.enabled_tenant("acme").await;
    let document = app
        .send(app.request(Method::GET, "/openapi.json", None))
        .await
        .expect(200)
        .json;
    let message = &document["paths"]["/v1/tenants/{tenant}/events/stream"]["get"]["responses"]["200"]
        ["content"]["text/event-stream"]["schema"];
    assert_eq!(message["type"], "object", "{message}");
    assert_eq!(message["required"], json!(["data"]));
    let data = &message["properties"]["data"];
    assert_eq!(data["type"], "string");
    assert_eq!(data["contentMediaType"], "application/json");
    let body_ref = data["contentSchema"]["$ref"].as_str().unwrap();
    let body_schema = &document["components"]["schemas"][body_ref.rsplit('/').next().unwrap()];
    let required: Vec<&str> = body_schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(required.contains(&"action"), "{body_schema}");

    let mut response = app
        .request(
            Method::GET,
            "/v1/tenants/acme/events/stream",
            Some(&app.admin),
        )
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    while !text.contains("\ndata:") || !text[text.find("\ndata:").unwrap()..].contains("\n\n") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let block = text
        .split("\n\n")
        .find(|block| block.lines().any(|l| l.starts_with("data:")))
        .unwrap();
    let documented: Vec<&str> = message["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut data_text = String::new();
    for line in block.lines().filter(|l| !l.starts_with(':')) {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        assert!(
            documented.contains(&field),
            "undocumented field {field:?} in {block:?}"
        );
        if field == "data" {
            data_text.push_str(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    let event: serde_json::Value = serde_json::from_str(&data_text).unwrap();
    for field in required {
        assert!(event.get(field).is_some(), "{field} missing from {event}");
    }
}

/// Every `{id}` in a path says its format, and the ids the server makes
/// have it (`key_`, `usr_` or `ver_` and a ULID).
#[tokio::test]
async fn path_ids_say_their_format_and_real_ids_match_it() {
    let app = spawn_app().await;
    app.enabled_tenant("acme").await;
    let user = app.create_user("acme", "ana", &["developer"], true).await;
    let key = app.key_for("acme", &user.id, "k").await;
    let document = app
        .send(app.request(Method::GET, "/openapi.json", None))
        .await
        .expect(200)
        .json;
    let ulid = "[0-9A-HJKMNP-TV-Z]{26}";
    let mut seen = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for operation in item.as_object().unwrap().values() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] != "path" || parameter["name"] != "id" {
                    continue;
                }
                let prefix = if path.contains("/keys/") {
                    "key"
                } else if path.contains("/users/") {
                    "usr"
                } else {
                    "ver"
                };
                assert_eq!(
                    parameter["schema"]["pattern"],
                    format!("^{prefix}_{ulid}$"),
                    "{path}"
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 15, "{seen} id parameters");
    let matches = |id: &str, prefix: &str| {
        let rest = id.strip_prefix(&format!("{prefix}_")).unwrap_or("");
        rest.len() == 26
            && rest
                .chars()
                .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c)))
    };
    assert!(matches(&key.id, "key"), "{}", key.id);
    assert!(matches(&user.id, "usr"), "{}", user.id);
}
