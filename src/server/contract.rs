//! The parts of the HTTP contract every operation shares, in one place: the
//! statuses any route can answer whatever its handler does (401 where a
//! token is needed, 408, 413 and 415 where a body is read, 400 where a
//! query is, 414 and 503
//! everywhere), added to the OpenAPI document so that it describes every
//! answer; and the one request rule that is not a route's own: a body's
//! `Content-Type` charset, if given, is UTF-8.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use super::error::ApiError;

/// Statuses every operation can answer, whatever its handler: (status, why).
const EVERY_OPERATION: [(&str, &str); 2] = [
    (
        "414",
        "URI_TOO_LONG: the path and query are longer than the server reads",
    ),
    (
        "503",
        "STORE_UNAVAILABLE: the server cannot use its database now (see /readyz)",
    ),
];
/// Statuses of operations that need a management token.
const AUTHENTICATED: [(&str, &str); 1] = [(
    "401",
    "UNAUTHENTICATED: no token, a malformed `Authorization` header, or a token that is \
     not valid; the answer carries `WWW-Authenticate: Bearer`",
)];
/// Statuses of operations that read a request body.
const WITH_BODY: [(&str, &str); 4] = [
    ("400", "MALFORMED_JSON: the body is not JSON"),
    (
        "408",
        "BODY_TIMEOUT: the body did not arrive in time (`serve --body-timeout`)",
    ),
    (
        "413",
        "PAYLOAD_TOO_LARGE: the body is larger than the server reads (64 KiB)",
    ),
    (
        "415",
        "UNSUPPORTED_MEDIA_TYPE: the body is not sent as `application/json` (charset, if \
         given, `utf-8`)",
    ),
];

/// Adds the shared statuses to every operation of the document.
pub struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                describe_id_parameters(path, operation);
                add_common(operation);
            }
        }
    }
}

/// A tenant id, as every `{tenant}` in a path takes it.
const TENANT_PATTERN: &str = "^[a-z][a-z0-9-]{1,62}$";

/// The server's ids: a prefix naming what they identify, `_`, and a ULID
/// (26 of Crockford's base 32, as `ulid` writes them).
const ULID: &str = "[0-9A-HJKMNP-TV-Z]{26}";

/// `{tenant}` and `{id}` in a path are ids: the document says their
/// format (a key's, a user's or a verifier's, by the path's collection).
fn describe_id_parameters(path: &str, operation: &mut Operation) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let id_prefix = ["keys", "users", "verifiers"]
        .into_iter()
        .zip(["key", "usr", "ver"])
        .find(|(collection, _)| path.contains(&format!("/{collection}/{{id}}")))
        .map(|(_, prefix)| prefix);
    for parameter in operation.parameters.iter_mut().flatten() {
        if parameter.parameter_in != ParameterIn::Path {
            continue;
        }
        let schema = match (parameter.name.as_str(), id_prefix) {
            ("tenant", _) => ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(2))
                .max_length(Some(63))
                .pattern(Some(TENANT_PATTERN)),
            ("id", Some(prefix)) => ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!("^{prefix}_{ULID}$"))),
            _ => continue,
        };
        parameter.schema = Some(RefOr::T(schema.into()));
    }
}

/// A `text/event-stream` answer is documented by the body of one event
/// (`body = api::EventBody`); what arrives is a stream of messages whose
/// `data` is that body as JSON. The document says so the way OpenAPI 3.2
/// and validating clients read it: each message is an object with `id`,
/// `event`, `retry` and a string `data` whose `contentSchema` is the body.
fn describe_event_streams(operation: &mut Operation) {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    for response in operation.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let Some(content) = response.content.get_mut("text/event-stream") else {
            continue;
        };
        let Some(RefOr::Ref(body)) = &content.schema else {
            continue;
        };
        let mut data = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("The event as JSON"))
            .content_media_type("application/json")
            .build();
        data.extensions.get_or_insert_with(Default::default).insert(
            "contentSchema".to_owned(),
            serde_json::json!({ "$ref": body.ref_location }),
        );
        let message = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("One server-sent event"))
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("The event's id: send it back as Last-Event-ID")),
            )
            .property(
                "event",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("Absent: a `message`")),
            )
            .property("retry", ObjectBuilder::new().schema_type(Type::Integer))
            .property("data", data)
            .required("data");
        content.schema = Some(RefOr::T(message.into()));
    }
}

fn add_common(operation: &mut Operation) {
    describe_event_streams(operation);
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let with_body = operation.request_body.is_some();
    let with_query = operation.parameters.as_ref().is_some_and(|parameters| {
        parameters
            .iter()
            .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
    });
    let mut statuses: Vec<(&str, &str)> = EVERY_OPERATION.to_vec();
    if secured {
        statuses.extend(AUTHENTICATED);
    }
    if with_body {
        statuses.extend(WITH_BODY);
    }
    if with_query {
        statuses.push((
            "400",
            "INVALID_QUERY: a query parameter is not of its documented type",
        ));
    }
    for (status, description) in statuses {
        match operation.responses.responses.entry(status.to_owned()) {
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(problem(status, description));
            }
            // Two causes of one status (400: the body, the query) are both said.
            std::collections::btree_map::Entry::Occupied(mut entry) => {
                if let RefOr::T(response) = entry.get_mut()
                    && !response.description.contains(description)
                {
                    response.description = format!("{}; {description}", response.description);
                }
            }
        }
    }
}

/// A problem+json answer; 414 comes from the HTTP layer, before any
/// route, with no body.
fn problem(status: &str, description: &str) -> RefOr<utoipa::openapi::Response> {
    if status == "414" {
        return RefOr::T(ResponseBuilder::new().description(description).build());
    }
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

/// Refuses a body whose `Content-Type` names a charset other than UTF-8
/// with 415: JSON is UTF-8 (RFC 8259), and a body declared as Latin-1 would
/// otherwise be read as something its sender did not mean.
pub async fn utf8_only(request: Request, next: Next) -> Response {
    let charset = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value.split(';').skip(1).find_map(|parameter| {
                let (name, value) = parameter.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("charset")
                    .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
            })
        });
    match charset {
        Some(charset) if charset != "utf-8" && charset != "utf8" => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("the body must be UTF-8, not {charset:?}"),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}
