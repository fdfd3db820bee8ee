//! `keydesk keys …`: every action in table and JSON form, the secret alone
//! on stdout, confirmation before what cannot be undone, and exit codes.

use crate::support::{Server, run};

#[test]
fn create_prints_the_secret_alone_on_stdout_and_the_rest_on_stderr() {
    let server = Server::start();
    let made = server
        .run(&[
            "keys",
            "create",
            "partner-feed",
            "--scope",
            "read,write",
            "--expires",
            "90d",
        ])
        .expect(0);
    let secret = made.stdout.strip_suffix('\n').unwrap();
    assert!(
        secret.starts_with("kd_") && !secret.contains(char::is_whitespace),
        "{made:?}"
    );
    assert!(made.stderr.contains("partner-feed") && made.stderr.contains("shown this once"));
    // The secret is the key's: looking it up from stdin finds it.
    let found = server
        .run_with(
            &["keys", "lookup", "-", "-o", "json"],
            &[("KEYDESK_TOKEN", crate::support::ADMIN_TOKEN)],
            Some(&made.stdout),
        )
        .json();
    assert_eq!(found["key"]["name"], "partner-feed");
    assert_eq!(found["matched"], "current");
    assert_eq!(found["key"]["scopes"], serde_json::json!(["read", "write"]));
    // JSON: the whole answer, secret included, for jq.
    let json = server
        .run(&["keys", "create", "second", "-o", "json"])
        .json();
    assert!(json["secret"].as_str().unwrap().starts_with("kd_"));
    assert_eq!(json["key"]["name"], "second");
}

#[test]
fn list_and_get_in_table_and_json() {
    let server = Server::start();
    server.key("alpha", &["--scope", "read"]);
    server.key("beta", &[]);
    let table = server.run(&["keys", "list"]).expect(0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("NAME"),
        "{table:?}"
    );
    assert_eq!(lines.len(), 3, "{table:?}");
    let all = server.run(&["keys", "list", "-o", "json"]).json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    let one = server
        .run(&[
            "keys", "list", "-o", "json", "--limit", "1", "--sort", "name",
        ])
        .json();
    assert_eq!(one[0]["name"], "alpha");
    assert_eq!(one.as_array().unwrap().len(), 1);
    let id = server.key_id("alpha");
    let get = server.run(&["keys", "get", &id]).expect(0);
    assert!(
        get.stdout.contains("name") && get.stdout.contains("alpha"),
        "{get:?}"
    );
    assert!(!get.stdout.contains("kd_") || get.stdout.contains("start"));
    assert_eq!(
        server.run(&["keys", "get", &id, "-o", "json"]).json()["id"],
        id.as_str()
    );
    let filtered = server
        .run(&["keys", "list", "--status", "revoked", "-o", "json"])
        .json();
    assert_eq!(filtered, serde_json::json!([]));
}

#[test]
fn edit_disable_enable_and_duplicate() {
    let server = Server::start();
    server.key("svc", &["--scope", "read"]);
    let id = server.key_id("svc");
    let edited = server
        .run(&[
            "keys",
            "edit",
            &id,
            "--add-scope",
            "write",
            "--description",
            "the svc",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(edited["scopes"], serde_json::json!(["read", "write"]));
    assert_eq!(edited["description"], "the svc");
    server.run(&["keys", "edit", &id]).expect(2);
    let disabled = server.run(&["keys", "disable", &id, "-o", "json"]).json();
    assert_eq!(disabled[0]["status"], "disabled");
    let enabled = server.run(&["keys", "enable", &id]).expect(0);
    assert!(enabled.stderr.contains("enabled key svc"), "{enabled:?}");
    let copy = server
        .run(&["keys", "duplicate", &id, "--name", "svc-copy"])
        .expect(0);
    assert!(copy.stdout.trim().starts_with("kd_"), "{copy:?}");
    assert_eq!(
        server
            .run(&["keys", "get", &server.key_id("svc-copy"), "-o", "json"])
            .json()["scopes"],
        serde_json::json!(["read", "write"])
    );
}

#[test]
fn regenerate_asks_unless_a_grace_keeps_the_old_secret_working() {
    let server = Server::start();
    let old = server.key("rotated", &[]);
    let id = server.key_id("rotated");
    // No grace and no terminal: refused, nothing changed.
    let refused = server.run(&["keys", "regenerate", &id]).expect(7);
    assert!(refused.stderr.contains("--yes"), "{refused:?}");
    assert!(refused.stdout.is_empty());
    let lookup = |secret: &str| {
        server.run_with(
            &["keys", "lookup", "-", "-o", "json"],
            &[("KEYDESK_TOKEN", crate::support::ADMIN_TOKEN)],
            Some(secret),
        )
    };
    assert_eq!(lookup(&old).json()["matched"], "current");
    // With a grace: the new secret alone on stdout, the old one still verifies.
    let rotated = server
        .run(&["keys", "regenerate", &id, "--grace", "1h"])
        .expect(0);
    let new = rotated.stdout.trim();
    assert!(new.starts_with("kd_") && new != old, "{rotated:?}");
    assert!(
        rotated.stderr.contains("previous secret verifies until"),
        "{rotated:?}"
    );
    assert_eq!(lookup(&old).json()["matched"], "previous");
    assert_eq!(lookup(new).json()["matched"], "current");
    server
        .run(&["keys", "regenerate", &id, "--grace", "8d"])
        .expect(2);
    // End the rotation: the old secret is gone.
    server.run(&["keys", "end-rotation", &id]).expect(0);
    lookup(&old).expect(3);
    // No grace, with --yes: at once.
    let now = server.run(&["keys", "regenerate", &id, "--yes"]).expect(0);
    lookup(new).expect(3);
    assert_eq!(lookup(now.stdout.trim()).json()["matched"], "current");
}

#[test]
fn revoke_by_filter_previews_and_refuses_without_a_terminal_or_yes() {
    let server = Server::start();
    server.key("leaky-1", &["--scope", "read"]);
    server.key("leaky-2", &["--scope", "read"]);
    server.key("safe", &["--scope", "write"]);
    let refused = server.run(&["keys", "revoke", "--scope", "read"]).expect(7);
    assert!(
        refused.stderr.contains("will revoke 2 key(s)"),
        "{refused:?}"
    );
    assert!(refused.stderr.contains("leaky-1") && refused.stderr.contains("leaky-2"));
    let dry = server
        .run(&[
            "keys",
            "revoke",
            "--name",
            "leaky",
            "--dry-run",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(dry["would_revoke"], 2);
    let statuses = || {
        server
            .run(&["keys", "list", "-o", "json", "--status", "revoked"])
            .json()
    };
    assert_eq!(statuses(), serde_json::json!([]), "nothing was revoked yet");
    let done = server
        .run(&["keys", "revoke", "--scope", "read", "--yes"])
        .expect(0);
    assert!(done.stdout.contains("revoked"), "{done:?}");
    assert_eq!(statuses().as_array().unwrap().len(), 2);
    // By ids; a revoked one is refused, and the exit code says so.
    let safe = server.key_id("safe");
    let leaky = server.key_id("leaky-1");
    let partly = server
        .run(&["keys", "revoke", &safe, &leaky, "--yes", "-o", "json"])
        .expect(5);
    assert_eq!(partly.json_unchecked()["revoked"], 1);
    server.run(&["keys", "revoke"]).expect(2);
}

#[test]
fn lookup_from_stdin_then_revoke_is_the_incident_one_liner() {
    let server = Server::start();
    let secret = server.key("leaked", &[]);
    let vars = [("KEYDESK_TOKEN", crate::support::ADMIN_TOKEN)];
    // Without --yes and without a terminal it shows the key and refuses.
    let asked = server
        .run_with(&["keys", "lookup", "-", "--revoke"], &vars, Some(&secret))
        .expect(7);
    assert!(
        asked.stderr.contains("leaked") && asked.stderr.contains("acme"),
        "{asked:?}"
    );
    assert!(!asked.stderr.contains(&secret) && !asked.stdout.contains(&secret));
    let done = server
        .run_with(
            &["keys", "lookup", "-", "--revoke", "--yes"],
            &vars,
            Some(&secret),
        )
        .expect(0);
    assert!(done.stderr.contains("revoked key leaked"), "{done:?}");
    let key = server
        .run(&["keys", "get", &server.key_id("leaked"), "-o", "json"])
        .json();
    assert_eq!(key["status"], "revoked");
    // Another tenant's key is found too (the tenant flag does not matter).
    server
        .run_with(
            &["keys", "lookup", "-"],
            &vars,
            Some("kd_notakeyatall0000000000000000"),
        )
        .expect(3);
    server
        .run_with(&["keys", "lookup", "-"], &vars, Some(""))
        .expect(2);
    // A secret given as an argument works, with a warning about where it stays.
    let argued = server.run(&["keys", "lookup", &secret]).expect(0);
    assert!(argued.stderr.contains("shell history"), "{argued:?}");
}

#[test]
fn delete_asks_and_names_the_keys() {
    let server = Server::start();
    server.key("old-one", &[]);
    let id = server.key_id("old-one");
    let asked = server.run(&["keys", "delete", &id]).expect(7);
    assert!(asked.stderr.contains("old-one"), "{asked:?}");
    server.run(&["keys", "delete", &id, "--yes"]).expect(0);
    server.run(&["keys", "get", &id]).expect(3);
}

#[test]
fn exit_codes_say_what_went_wrong() {
    let server = Server::start();
    // Conflict: the tenant exists already.
    let taken = server.run(&["tenants", "create", "acme"]).expect(5);
    assert!(taken.stderr.contains("acme"), "{taken:?}");
    // Not found.
    server.run(&["keys", "get", "key_nope"]).expect(3);
    // Usage: an unknown flag, a bad value.
    server.run(&["keys", "list", "--colour"]).expect(2);
    server
        .run(&["keys", "create", "x", "--expires", "someday"])
        .expect(2);
    // Permission: a refused token says where it came from.
    let refused = server
        .run_with(
            &["keys", "list"],
            &[("KEYDESK_TOKEN", "kdm_wrong_0000000000000000000000000000")],
            None,
        )
        .expect(4);
    assert!(
        refused
            .stderr
            .contains("refused the token from KEYDESK_TOKEN"),
        "{refused:?}"
    );
    let flagged = server
        .run_with(
            &[
                "keys",
                "list",
                "--token",
                "kdm_wrong_000000000000000000000000000",
            ],
            &[],
            None,
        )
        .expect(4);
    assert!(flagged.stderr.contains("from --token"), "{flagged:?}");
    // Unreachable: names the URL.
    let mut dead = server.command(&["keys", "list"]);
    dead.env("KEYDESK_SERVER", "http://127.0.0.1:9")
        .env("KEYDESK_TOKEN", crate::support::ADMIN_TOKEN);
    let dead = run(dead, None).expect(6);
    assert!(
        dead.stderr.contains("cannot reach http://127.0.0.1:9"),
        "{dead:?}"
    );
    // No server at all: says how to start.
    let mut nothing = server.command(&["keys", "list"]);
    nothing.env_remove("KEYDESK_SERVER");
    let nothing = run(nothing, None).expect(2);
    assert!(nothing.stderr.contains("keydesk demo"), "{nothing:?}");
}

#[test]
fn escape_codes_in_what_is_echoed_cannot_drive_the_terminal() {
    let server = Server::start();
    // The server refuses control characters in every name it stores (the
    // tables clean what an older server may hold: output's unit tests);
    // what a user typed comes back in errors, cleaned as well.
    let evil = "key_\u{1b}]52;c;aGk=\u{7}\u{1b}[2J";
    let run = server.run(&["keys", "get", evil]);
    assert_ne!(run.code, 0);
    assert!(
        !run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{7}'),
        "{run:?}"
    );
    let made = server.run(&["keys", "create", "a\u{1b}[31mred"]).expect(2);
    assert!(!made.stderr.contains('\u{1b}'), "{made:?}");
}

#[test]
fn reveal_prints_a_stored_secret_alone_where_the_tenant_allows_it() {
    let server = Server::start();
    server.key("not-kept", &[]);
    let refused = server
        .run(&["keys", "reveal", &server.key_id("not-kept")])
        .expect(5);
    assert!(refused.stdout.is_empty(), "{refused:?}");
    server
        .run(&["settings", "set", "secret_retrieval=admins"])
        .expect(0);
    let secret = server.key("kept", &[]);
    let id = server.key_id("kept");
    let revealed = server.run(&["keys", "reveal", &id]).expect(0);
    assert_eq!(revealed.stdout, format!("{secret}\n"));
    let json = server.run(&["keys", "reveal", &id, "-o", "json"]).json();
    assert_eq!(json["secret"], secret.as_str());
    // Going back to never erases the stored secrets: it asks first.
    let asked = server
        .run(&["settings", "set", "secret_retrieval=never"])
        .expect(7);
    assert!(
        asked.stderr.contains("erases every stored secret"),
        "{asked:?}"
    );
    server.run(&["keys", "reveal", &id]).expect(0);
    server
        .run(&["settings", "set", "secret_retrieval=never", "--yes"])
        .expect(0);
    server.run(&["keys", "reveal", &id]).expect(5);
}
