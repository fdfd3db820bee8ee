//! `keydesk tenants|settings|users|me|events`, `completions` and `man`.

use std::time::{Duration, Instant};

use crate::support::{ADMIN_TOKEN, Server, Tail, run};

#[test]
fn tenants_and_settings() {
    let server = Server::start();
    let made = server
        .run(&[
            "tenants", "create", "beta", "--name", "Beta Co", "-o", "json",
        ])
        .json();
    assert_eq!(made["id"], "beta");
    assert_eq!(made["settings"]["api_keys_enabled"], false);
    let table = server.run(&["tenants", "list"]).expect(0);
    assert!(
        table.stdout.contains("Beta Co") && table.stdout.contains("Acme"),
        "{table:?}"
    );
    let list = server.run(&["tenants", "list", "-o", "json"]).json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    server.run(&["tenants", "create", "beta"]).expect(5);

    let set = server
        .run(&[
            "settings",
            "set",
            "--tenant",
            "beta",
            "api_keys_enabled=true",
            "max_keys_per_user=3",
            "scopes=read,write",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(set["max_keys_per_user"], 3);
    assert_eq!(set["scopes"], serde_json::json!(["read", "write"]));
    let get = server
        .run(&["settings", "get", "--tenant", "beta"])
        .expect(0);
    assert!(
        get.stdout.contains("max_keys_per_user") && get.stdout.contains('3'),
        "{get:?}"
    );
    let lifted = server
        .run(&[
            "settings",
            "set",
            "--tenant",
            "beta",
            "max_keys_per_user=null",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(lifted["max_keys_per_user"], serde_json::Value::Null);
    let wrong = server
        .run(&["settings", "set", "--tenant", "beta", "colour=blue"])
        .expect(2);
    assert!(
        wrong.stderr.contains("colour") && wrong.stderr.contains("max_keys_per_user"),
        "{wrong:?}"
    );
    server
        .run(&["settings", "set", "--tenant", "beta", "max_keys_per_user=0"])
        .expect(2);
    // With several tenants and none named, the command asks which.
    let mut which = server.command(&["settings", "get"]);
    which
        .env_remove("KEYDESK_TENANT")
        .env("KEYDESK_TOKEN", ADMIN_TOKEN);
    let which = run(which, None).expect(2);
    assert!(
        which.stderr.contains("--tenant") && which.stderr.contains("beta"),
        "{which:?}"
    );
}

#[test]
fn users_roles_license_tokens() {
    let server = Server::start();
    let made = server
        .run(&[
            "users",
            "create",
            "ana",
            "--email",
            "ana@example.com",
            "--role",
            "developer",
            "--licensed",
        ])
        .expect(0);
    let token = made.stdout.trim().to_owned();
    assert!(
        token.starts_with("kdm_") && !made.stdout.trim().contains('\n'),
        "{made:?}"
    );
    // Ana's token works, and she is who `me` says.
    let me = server
        .run_with(&["me", "-o", "json"], &[("KEYDESK_TOKEN", &token)], None)
        .json();
    assert_eq!(me["user"]["name"], "ana");
    let me_table = server
        .run_with(&["me"], &[("KEYDESK_TOKEN", &token)], None)
        .expect(0);
    assert!(me_table.stdout.contains("developer") && me_table.stdout.contains("acme"));
    // The administrator names her by name.
    let granted = server
        .run(&["users", "grant", "ana", "tenant_admin", "-o", "json"])
        .json();
    assert_eq!(
        granted["roles"],
        serde_json::json!(["developer", "tenant_admin"])
    );
    let withdrawn = server
        .run(&["users", "withdraw", "ANA", "developer"])
        .expect(0);
    assert!(
        withdrawn.stderr.contains("now holds: tenant_admin"),
        "{withdrawn:?}"
    );
    let unlicensed = server
        .run(&["users", "license", "ana", "off", "-o", "json"])
        .json();
    assert_eq!(unlicensed["licensed"], false);
    server
        .run(&["users", "grant", "nobody", "viewer"])
        .expect(3);
    server.run(&["users", "grant", "ana", "king"]).expect(2);
    let list = server.run(&["users", "list"]).expect(0);
    assert!(list.stdout.contains("ana@example.com"), "{list:?}");
    assert_eq!(
        server
            .run(&["users", "list", "-o", "json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Only Ana may replace her token; the admin may take it away, then issue a first one.
    server.run(&["users", "token", "ana"]).expect(5);
    server.run(&["users", "token", "ana", "--revoke"]).expect(7);
    server
        .run(&["users", "token", "ana", "--revoke", "--yes"])
        .expect(0);
    server
        .run_with(&["me"], &[("KEYDESK_TOKEN", &token)], None)
        .expect(4);
    let first = server.run(&["users", "token", "ana"]).expect(0);
    let first = first.stdout.trim();
    assert!(first.starts_with("kdm_"));
    // Ana replaces her own: the new one alone on stdout, the old one stops.
    let own = server
        .run_with(
            &["users", "token", "--yes"],
            &[("KEYDESK_TOKEN", first)],
            None,
        )
        .expect(0);
    let own = own.stdout.trim();
    server
        .run_with(&["me"], &[("KEYDESK_TOKEN", first)], None)
        .expect(4);
    server
        .run_with(&["me"], &[("KEYDESK_TOKEN", own)], None)
        .expect(0);
    // Disable, enable, delete.
    server.run(&["users", "disable", "ana"]).expect(0);
    server
        .run_with(&["me"], &[("KEYDESK_TOKEN", own)], None)
        .expect(4);
    server.run(&["users", "enable", "ana"]).expect(0);
    server
        .run_with(&["me"], &[("KEYDESK_TOKEN", own)], None)
        .expect(0);
    server.run(&["users", "delete", "ana"]).expect(7);
    server.run(&["users", "delete", "ana", "--yes"]).expect(0);
    server
        .run(&["users", "list", "-o", "json"])
        .json()
        .as_array()
        .unwrap()
        .is_empty()
        .then_some(())
        .unwrap();
}

#[test]
fn a_viewer_is_refused_with_exit_code_4() {
    let server = Server::start();
    let viewer = server
        .run(&[
            "users",
            "create",
            "vic",
            "--email",
            "vic@example.com",
            "--role",
            "viewer",
        ])
        .expect(0);
    let token = viewer.stdout.trim();
    server
        .run_with(&["keys", "list"], &[("KEYDESK_TOKEN", token)], None)
        .expect(0);
    let refused = server
        .run_with(
            &["keys", "create", "mine"],
            &[("KEYDESK_TOKEN", token)],
            None,
        )
        .expect(4);
    assert!(
        refused.stderr.contains("FORBIDDEN") || refused.stderr.contains("NOT_LICENSED"),
        "{refused:?}"
    );
    // A read-only session sends nothing that changes anything.
    let readonly = server
        .run_with(
            &["keys", "create", "x"],
            &[("KEYDESK_TOKEN", ADMIN_TOKEN), ("KEYDESK_READONLY", "true")],
            None,
        )
        .expect(4);
    assert!(readonly.stderr.contains("read-only"), "{readonly:?}");
}

#[test]
fn events_list_and_tail() {
    let server = Server::start();
    server.key("watched", &[]);
    let events = server.run(&["events", "list", "-o", "json"]).json();
    assert_eq!(events[0]["action"], "key.created");
    let revoked = server
        .run(&["events", "list", "--action", "key.revoked", "-o", "json"])
        .json();
    assert_eq!(revoked, serde_json::json!([]));
    let table = server.run(&["events", "list", "--limit", "1"]).expect(0);
    assert_eq!(table.stdout.lines().count(), 2, "{table:?}");
    server
        .run(&["events", "list", "--action", "key.exploded"])
        .expect(2);

    // tail: started, then a revoke elsewhere shows up as one JSON line.
    let tail = Tail::start(&server);
    assert!(
        tail.note.contains("following the events of acme"),
        "{}",
        tail.note
    );
    let id = server.key_id("watched");
    server.run(&["keys", "revoke", &id, "--yes"]).expect(0);
    let deadline = Instant::now() + Duration::from_secs(15);
    let event = loop {
        let event = tail
            .next(deadline.saturating_duration_since(Instant::now()))
            .expect("the revoke arrives on the tail");
        if event["action"] == "key.revoked" {
            break event;
        }
    };
    assert_eq!(event["target_id"], id.as_str());
}

#[test]
fn completions_and_the_manual_page() {
    let server = Server::start();
    let bash = server.run(&["completions", "bash"]).expect(0);
    assert!(
        bash.stdout.contains("keydesk") && bash.stdout.contains("lookup"),
        "{}",
        &bash.stdout[..200]
    );
    let fish = server.run(&["completions", "fish"]).expect(0);
    assert!(fish.stdout.contains("complete -c keydesk"));
    let man = server.run(&["man"]).expect(0);
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH"),
        "{}",
        &man.stdout[..100]
    );
    assert!(man.stdout.contains("Exit codes"));
    server.run(&["completions", "tcsh"]).expect(2);
}

/// `events tail` outlives a server restart: it reconnects and goes on from
/// the last event it printed, losing and repeating none.
#[test]
fn tail_resumes_after_the_server_restarts() {
    let mut server = Server::start();
    let tail = Tail::start(&server);
    let next = |what: &str| {
        tail.next(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("no {what} on the tail"))
    };
    server.key("before", &[]);
    let first = next("event before the restart");
    assert_eq!(first["target_name"], "before");
    server.restart();
    server.key("after", &[]);
    let second = next("event after the restart");
    assert_eq!(second["target_name"], "after", "{second}");
    assert_eq!(
        second["id"].as_i64().unwrap(),
        first["id"].as_i64().unwrap() + 1
    );
    assert!(
        tail.next(Duration::from_millis(1500)).is_none(),
        "an event repeated"
    );
}

#[test]
fn fleet_status_and_a_revoke_that_waits_for_every_instance() {
    let server = Server::start();
    let table = server.run(&["fleet", "status"]).expect(0);
    assert!(table.stdout.starts_with("INSTANCE"), "{table:?}");
    assert!(
        table.stdout.contains(" *"),
        "the answering instance is marked: {table:?}"
    );
    assert!(table.stderr.contains("none behind"), "{table:?}");
    let json = server.run(&["fleet", "status", "-o", "json"]).json();
    assert_eq!(json["instances"].as_array().unwrap().len(), 1);
    assert_eq!(json["instances"][0]["lag"], 0);

    let secret = server.key("fleet-watched", &[]);
    let id = server.key_id("fleet-watched");
    let revoked = server
        .run(&["keys", "revoke", &id, "--yes", "--wait"])
        .expect(0);
    assert!(
        revoked
            .stderr
            .contains("revoked · applied on 1 of 1 instance in"),
        "{revoked:?}"
    );
    let other = server.key("fleet-leaked", &[]);
    let looked = server
        .run_with(
            &["keys", "lookup", "-", "--revoke", "--yes", "--wait"],
            &[("KEYDESK_TOKEN", ADMIN_TOKEN)],
            Some(&other),
        )
        .expect(0);
    assert!(
        looked.stderr.contains("applied on 1 of 1 instance"),
        "{looked:?}"
    );
    // A viewer may not see the fleet.
    let viewer = server
        .run(&[
            "users",
            "create",
            "val",
            "--email",
            "val@example.com",
            "--role",
            "viewer",
        ])
        .expect(0);
    server
        .run_with(
            &["fleet", "status"],
            &[("KEYDESK_TOKEN", viewer.stdout.trim())],
            None,
        )
        .expect(4);
    let _ = secret;
}
