//! The selection is a key, never a row number (issue 6, section 0): every
//! way the list changes under the cursor — a reload, a filter cleared, a
//! sort, a new key, a key deleted elsewhere — keeps the cursor on the key
//! the user chose, or moves it to a neighbour and says so. Each test acts
//! afterwards and checks on the server which key was hit.

use crossterm::event::KeyCode;
use serde_json::json;

use crate::support::{Acme, Console, TENANT};

fn selected_name(console: &Console) -> Option<String> {
    console.selected_key().map(|k| k.name.clone())
}

/// Adds a key through the form, closes its secret, and waits for the list.
async fn add_key(console: &mut Console, name: &str) {
    console.char('a');
    console.type_text(name);
    console.save_form();
    console
        .pump_until("the secret modal", crate::support::secret_shown)
        .await;
    console.close_uncopied_secret();
    console.settle().await;
}

/// The repro of issue 6: a tenant with one key, `partner-feed`; create a
/// second; the next refresh; `d` must disable the new key, not `partner-feed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_creating_a_key_a_reload_keeps_it_selected_and_d_acts_on_it() {
    let acme = Acme::start(json!({})).await;
    let (partner, _) = acme.key("partner-feed").await;
    let mut console = acme.console(&acme.ana, false).await;

    add_key(&mut console, "zz-new-feed").await;
    assert_eq!(selected_name(&console).as_deref(), Some("zz-new-feed"));
    console.press(KeyCode::F(5));
    console.settle().await;
    assert_eq!(
        selected_name(&console).as_deref(),
        Some("zz-new-feed"),
        "a reload moved the selection"
    );

    console.char('d');
    console.settle().await;
    assert_eq!(
        acme.server.status_of(TENANT, &partner).await,
        "active",
        "d disabled partner-feed, a key the user had not chosen"
    );
    let new = console.key_named("zz-new-feed").id.clone();
    assert_eq!(acme.server.status_of(TENANT, &new).await, "disabled");
}

/// `/ux` Enter `j` Esc: clearing the filter keeps the key, not the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_the_filter_keeps_the_selected_key() {
    let acme = Acme::start(json!({})).await;
    for name in ["alpha", "ux-one", "beta", "ux-two", "gamma"] {
        acme.key(name).await;
    }
    let mut console = acme.console(&acme.ana, false).await;
    console.char('/');
    console.type_text("ux");
    console.press(KeyCode::Enter);
    console.char('j');
    let chosen = selected_name(&console).unwrap();
    assert!(chosen.starts_with("ux-"), "{chosen}");

    console.press(KeyCode::Esc);
    assert_eq!(console.filter_text(), "", "Esc clears the filter");
    assert_eq!(selected_name(&console), Some(chosen.clone()));

    console.char('y');
    let id = console.key_named(&chosen).id.clone();
    assert!(
        console
            .clipboard
            .text()
            .contains(&crate::support::osc52_of(&id)),
        "y copied another key's id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorting_keeps_the_selected_key() {
    let acme = Acme::start(json!({})).await;
    for name in ["c-key", "a-key", "d-key", "b-key"] {
        acme.key(name).await;
    }
    let mut console = acme.console(&acme.ana, false).await;
    console.select("b-key");
    for _ in 0..6 {
        console.char('s');
        assert_eq!(selected_name(&console).as_deref(), Some("b-key"));
    }
    console.char('S');
    assert_eq!(selected_name(&console).as_deref(), Some("b-key"));
}

/// A key deleted by someone else: the next reload moves the cursor to a
/// neighbour and the status line says which key went away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_deleted_elsewhere_moves_the_selection_to_a_neighbour_and_says_so() {
    let acme = Acme::start(json!({})).await;
    for name in ["one", "two", "three", "four"] {
        acme.key(name).await;
    }
    let mut console = acme.console(&acme.ana, false).await;
    console.select("three");
    let id = console.key_named("three").id.clone();
    let (status, _) = acme
        .server
        .delete(&format!("/v1/tenants/{TENANT}/keys/{id}"), &acme.ana)
        .await;
    assert_eq!(status, 204);

    console.press(KeyCode::F(5));
    console.settle().await;
    let now = selected_name(&console).expect("a neighbour is selected");
    assert!(["two", "four"].contains(&now.as_str()), "{now}");
    let status = console.status_text();
    assert!(
        status.contains("three") && status.contains(&now),
        "the status does not say the key went away: {status:?}"
    );
}

/// A key changed elsewhere (so the status sort moves it): the cursor follows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_moves_in_the_order_keeps_the_cursor() {
    let acme = Acme::start(json!({})).await;
    for name in ["one", "two", "three"] {
        acme.key(name).await;
    }
    let mut console = acme.console(&acme.ana, false).await;
    console.select("three");
    let id = console.key_named("three").id.clone();
    acme.server.act(TENANT, &id, "disable").await; // sorts after the active ones
    console.press(KeyCode::F(5));
    console.settle().await;
    assert_eq!(selected_name(&console).as_deref(), Some("three"));
}

/// `d` on marked keys states their names before acting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_on_marked_keys_names_them_and_asks_first() {
    let acme = Acme::start(json!({})).await;
    let (one, _) = acme.key("one").await;
    let (two, _) = acme.key("two").await;
    acme.key("three").await;
    let mut console = acme.console(&acme.ana, false).await;
    console.select("one");
    console.char(' ');
    console.select("two");
    console.char(' ');
    console.char('d');
    let screen = console.screen(100, 30);
    assert!(
        screen.contains("one") && screen.contains("two") && screen.contains("Disable 2 keys"),
        "{screen}"
    );
    console.press(KeyCode::Right);
    console.press(KeyCode::Enter);
    console.settle().await;
    assert_eq!(acme.server.status_of(TENANT, &one).await, "disabled");
    assert_eq!(acme.server.status_of(TENANT, &two).await, "disabled");
}
