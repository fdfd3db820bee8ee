//! The key list (SPEC §3): walking `next_cursor` yields every key exactly
//! once in the documented order; `q`, `status` and `owner` filter; `total`
//! counts every match over all pages.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, in_seconds, spawn_app};

const KEYS: usize = 120;
const PAGE: usize = 25;

/// What the test itself knows about each key it created.
#[derive(Debug, Clone)]
struct Known {
    id: String,
    name: String,
    created_ms: i64,
    status: &'static str,
    owner: usize,
}

fn group(status: &str) -> u8 {
    match status {
        "active" => 0,
        "disabled" => 1,
        "expired" => 2,
        "revoked" => 3,
        other => panic!("status {other}"),
    }
}

struct Fixture {
    app: TestApp,
    tenant: String,
    owners: Vec<TestUser>,
    keys: Vec<Known>,
}

/// 120 keys with mixed-case names (some equal), three owners, and every status.
async fn fixture() -> Fixture {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let mut owners = Vec::new();
    for name in ["Ana Lopez", "Bo Chen", "Zelda Quint"] {
        owners.push(app.create_user(&tenant, name, &["developer"], true).await);
    }
    let mut keys = Vec::new();
    let expiring_at = in_seconds(2);
    for i in 0..KEYS {
        let name = match i % 5 {
            0 => format!("Billing-{i:03}"),
            1 => format!("billing-export-{i:03}"),
            2 => format!("CI deploy {i:03}"),
            3 => format!("zeta {i:03}"),
            _ => "Same name".to_owned(),
        };
        let owner = i % owners.len();
        let mut body = json!({ "name": name, "owner": owners[owner].id });
        let status = match i {
            0..=4 => {
                body["expires_at"] = json!(expiring_at);
                "expired"
            }
            _ if i % 7 == 0 => "disabled",
            _ if i % 9 == 0 => "revoked",
            _ => "active",
        };
        let created = app.create_key(&tenant, &app.admin, body).await;
        if status == "disabled" || (status == "revoked" && i % 2 == 0) {
            app.act(&tenant, &app.admin, &created.id, "disable")
                .await
                .expect(200);
        }
        if status == "revoked" {
            app.act(&tenant, &app.admin, &created.id, "revoke")
                .await
                .expect(200);
        }
        let created_at = created.key["created_at"].as_str().unwrap();
        keys.push(Known {
            id: created.id,
            name,
            created_ms: chrono::DateTime::parse_from_rfc3339(created_at)
                .unwrap()
                .timestamp_millis(),
            status,
            owner,
        });
    }
    let expiry = chrono::DateTime::parse_from_rfc3339(&expiring_at).unwrap();
    let wait = (expiry.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds() + 50;
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
    }
    Fixture {
        app,
        tenant,
        owners,
        keys,
    }
}

impl Fixture {
    /// Walks every page of `query` with limit 25; checks `total` on each page.
    async fn walk(&self, query: &str, expected_total: usize) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut q = format!("{query}&limit={PAGE}");
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={c}"));
            }
            let page = self.app.list_keys(&self.tenant, &q).await;
            assert_eq!(page["total"], expected_total, "total of {query}");
            let got = page["items"].as_array().unwrap();
            assert!(got.len() <= PAGE);
            items.extend(got.iter().cloned());
            pages += 1;
            assert!(pages <= KEYS, "the cursor never ends");
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(
            pages,
            expected_total.div_ceil(PAGE).max(1),
            "pages of {query}"
        );
        items
    }

    /// Walks `query` and asserts it yields exactly `expected`, in that order.
    async fn assert_walk(&self, query: &str, expected: &[&Known]) {
        let items = self.walk(query, expected.len()).await;
        let got: Vec<&str> = items.iter().map(|k| k["id"].as_str().unwrap()).collect();
        let unique: HashSet<&str> = got.iter().copied().collect();
        assert_eq!(unique.len(), got.len(), "{query}: a key appeared twice");
        let want: Vec<&str> = expected.iter().map(|k| k.id.as_str()).collect();
        if got != want {
            let describe = |ids: &[&str]| -> Vec<String> {
                ids.iter()
                    .map(|id| {
                        let k = self.keys.iter().find(|k| k.id == *id).unwrap();
                        format!("{} {} {} {}", k.status, k.name, k.created_ms, k.id)
                    })
                    .collect()
            };
            panic!(
                "{query}: wrong keys or order\n got: {:#?}\nwant: {:#?}",
                describe(&got),
                describe(&want)
            );
        }
        for item in &items {
            let known = self.keys.iter().find(|k| k.id == item["id"]).unwrap();
            assert_eq!(item["status"], known.status, "{}", known.name);
        }
    }

    fn sorted_by<K: Ord>(&self, key: impl Fn(&Known) -> K) -> Vec<&Known> {
        let mut keys: Vec<&Known> = self.keys.iter().collect();
        keys.sort_by_key(|k| key(k));
        keys
    }

    fn matching(&self, keep: impl Fn(&Known) -> bool) -> Vec<&Known> {
        self.sorted_by(|k| (group(k.status), Reverse(k.created_ms), k.id.clone()))
            .into_iter()
            .filter(|k| keep(k))
            .collect()
    }
}

#[tokio::test]
async fn walking_the_cursor_yields_every_key_once_in_each_documented_order() {
    let f = fixture().await;
    // status (the default): active first, then disabled, expired, revoked; newest first within.
    let by_status = f.sorted_by(|k| (group(k.status), Reverse(k.created_ms), k.id.clone()));
    f.assert_walk("", &by_status).await;
    f.assert_walk("sort=status", &by_status).await;
    // -status: the same walk backwards (revoked first, oldest first within).
    let mut backwards = by_status.clone();
    backwards.reverse();
    f.assert_walk("sort=-status", &backwards).await;
    f.assert_walk(
        "sort=-status&status=active",
        &f.matching(|k| k.status == "active")
            .into_iter()
            .rev()
            .collect::<Vec<_>>(),
    )
    .await;
    // name: A–Z, case-insensitively.
    let by_name = f.sorted_by(|k| (k.name.to_lowercase(), k.id.clone()));
    f.assert_walk("sort=name", &by_name).await;
    // -created: oldest first.
    let oldest_first = f.sorted_by(|k| (k.created_ms, k.id.clone()));
    f.assert_walk("sort=-created", &oldest_first).await;
    // created: newest first.
    let newest_first = f.sorted_by(|k| (Reverse(k.created_ms), Reverse(k.id.clone())));
    f.assert_walk("sort=created", &newest_first).await;
}

#[tokio::test]
async fn q_filters_by_name_id_and_owner_name_case_insensitively() {
    let f = fixture().await;
    let billing = f.matching(|k| k.name.to_lowercase().contains("billing"));
    assert!(billing.len() > PAGE, "more than one page of billing keys");
    f.assert_walk("q=BILLING", &billing).await;
    // Reversed, a filtered list walks the same keys backwards.
    let mut reversed = billing.clone();
    reversed.reverse();
    f.assert_walk("q=billing&sort=-status", &reversed).await;
    f.assert_walk(
        "q=bIlLiNg-eXpOrT",
        &f.matching(|k| k.name.starts_with("billing-export")),
    )
    .await;
    f.assert_walk("q=same%20NAME", &f.matching(|k| k.name == "Same name"))
        .await;

    let one = &f.keys[42];
    f.assert_walk(&format!("q={}", one.id), &f.matching(|k| k.id == one.id))
        .await;
    let tail = &one.id[one.id.len() - 12..];
    f.assert_walk(
        &format!("q={}", tail.to_lowercase()),
        &f.matching(|k| k.id == one.id),
    )
    .await;

    let zelda = f.matching(|k| k.owner == 2);
    f.assert_walk("q=zelda", &zelda).await;
    f.assert_walk("q=QUINT", &zelda).await;
    f.assert_walk("q=no-such-thing", &[]).await;
    // LIKE wildcards in q are taken literally.
    f.assert_walk("q=%25", &[]).await;
    f.assert_walk("q=b_lling", &[]).await;
    f.assert_walk("q=bill%25export", &[]).await;
    f.assert_walk("q=ci_deploy", &[]).await;
}

#[tokio::test]
async fn status_and_owner_filters_select_exactly_their_keys() {
    let f = fixture().await;
    for status in ["active", "disabled", "expired", "revoked"] {
        let expected = f.matching(|k| k.status == status);
        assert!(!expected.is_empty(), "{status}");
        f.assert_walk(&format!("status={status}"), &expected).await;
    }
    let bo = &f.owners[1];
    let theirs = f.matching(|k| k.owner == 1);
    f.assert_walk(&format!("owner={}", bo.id), &theirs).await;
    f.assert_walk("owner=Bo%20Chen", &theirs).await;
    f.assert_walk(
        &format!("owner={}&status=revoked", bo.id),
        &f.matching(|k| k.owner == 1 && k.status == "revoked"),
    )
    .await;
    f.assert_walk("q=billing&status=active&sort=name", &{
        let mut keys =
            f.matching(|k| k.status == "active" && k.name.to_lowercase().contains("billing"));
        keys.sort_by_key(|k| (k.name.to_lowercase(), k.id.clone()));
        keys
    })
    .await;
}

#[tokio::test]
async fn searching_finds_names_with_non_ascii_letters_whatever_their_case() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let mut ids = Vec::new();
    for name in ["Über-Sync", "Zahlungs-Export", "ÄRGER-Meldungen"] {
        ids.push(
            app.create_key(&tenant, &app.admin, json!({ "name": name }))
                .await
                .id,
        );
    }
    for (q, expected) in [
        ("Über", &ids[0]),
        ("über", &ids[0]),
        ("ÜBER-SYNC", &ids[0]),
        ("zahlungs", &ids[1]),
        ("Ärger", &ids[2]),
        ("ÄRGER", &ids[2]),
    ] {
        let list = app.list_keys(&tenant, &format!("q={}", urlencode(q))).await;
        assert_eq!(
            crate::helpers::ids_of(&list["items"]),
            std::slice::from_ref(expected),
            "q={q:?} should find exactly one key"
        );
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The sorts not covered above, walked in small pages: every key exactly
/// once, in the order of the field the page shows.
#[tokio::test]
async fn every_other_sort_pages_through_every_key_exactly_once() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    let mut secrets = Vec::new();
    for n in 0..30 {
        let mut body = json!({ "name": format!("Key {:02}", (n * 7) % 30) });
        if n % 3 != 0 {
            body["expires_at"] = json!(in_seconds(3600 * (1 + (n * 11) % 17)));
        }
        secrets.push(app.create_key(&tenant, &app.admin, body).await.secret);
    }
    for secret in secrets.iter().step_by(4) {
        assert_eq!(app.verify(secret).await, "VALID");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // last_used is sorted by what the database holds: let the counters land.
    tokio::time::sleep(keydesk::server::usage::FLUSH_INTERVAL + Duration::from_millis(500)).await;

    let time = |item: &Value, field: &str| {
        item[field].as_str().map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .unwrap()
                .timestamp_millis()
        })
    };
    type InOrder = fn(&Value, &Value, &dyn Fn(&Value, &str) -> Option<i64>) -> bool;
    let sorts: [(&str, InOrder); 5] = [
        ("-name", |a, b, _| {
            a["name"].as_str().unwrap().to_lowercase() >= b["name"].as_str().unwrap().to_lowercase()
        }),
        // Soonest first, keys that never expire last.
        ("expires", |a, b, t| {
            match (t(a, "expires_at"), t(b, "expires_at")) {
                (Some(x), Some(y)) => x <= y,
                (_, None) => true,
                (None, Some(_)) => false,
            }
        }),
        ("-expires", |a, b, t| {
            match (t(a, "expires_at"), t(b, "expires_at")) {
                (Some(x), Some(y)) => x >= y,
                (None, _) => true,
                (Some(_), None) => false,
            }
        }),
        // Most recent first, never used last.
        ("last_used", |a, b, t| {
            match (t(a, "last_used_at"), t(b, "last_used_at")) {
                (Some(x), Some(y)) => x >= y,
                (_, None) => true,
                (None, Some(_)) => false,
            }
        }),
        ("-last_used", |a, b, t| {
            match (t(a, "last_used_at"), t(b, "last_used_at")) {
                (Some(x), Some(y)) => x <= y,
                (None, _) => true,
                (Some(_), None) => false,
            }
        }),
    ];
    for (sort, in_order) in sorts {
        let mut items: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..30 {
            let mut query = format!("sort={sort}&limit=7");
            if let Some(c) = &cursor {
                query.push_str(&format!("&cursor={c}"));
            }
            let page = app.list_keys(&tenant, &query).await;
            assert_eq!(page["total"], 30, "{sort}");
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let ids: HashSet<&str> = items.iter().map(|k| k["id"].as_str().unwrap()).collect();
        assert_eq!((items.len(), ids.len()), (30, 30), "sort={sort}");
        for pair in items.windows(2) {
            assert!(
                in_order(&pair[0], &pair[1], &time),
                "sort={sort}: {} before {}",
                pair[0],
                pair[1]
            );
        }
    }
}

/// Issue 8 #15: the user list is paginated like the others: by name, a
/// page at a time, every user once.
#[tokio::test]
async fn the_user_list_pages_by_name_without_skipping_or_repeating() {
    let app = spawn_app().await;
    let tenant = app.enabled_tenant("acme").await;
    for n in 0..7 {
        app.create_user(&tenant, &format!("user-{n}"), &["viewer"], false)
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=3&cursor={c}"),
            None => "?limit=3".to_owned(),
        };
        let page = app
            .get(&format!("/v1/tenants/{tenant}/users{query}"), &app.admin)
            .await
            .expect(200);
        let items = page.json["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|u| u["name"].as_str().unwrap().to_owned()));
        match page.json["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|n| format!("user-{n}")).collect();
    assert_eq!(seen, expected);
    app.get(&format!("/v1/tenants/{tenant}/users?limit=0"), &app.admin)
        .await
        .expect_problem(422, "VALIDATION_FAILED");
    app.get(
        &format!("/v1/tenants/{tenant}/users?cursor=nonsense"),
        &app.admin,
    )
    .await
    .expect_problem(422, "VALIDATION_FAILED");
}
