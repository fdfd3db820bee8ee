//! The console's requests: each runs in a background task and comes back
//! as a [`Msg`] over a channel, so a slow server never delays a keystroke.
//! [`Net`] counts the requests in flight (the spinner). A reply about a
//! tenant carries the tenant epoch it was asked in; `App` drops what a
//! tenant switch made stale in one place.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc::UnboundedSender;

use crate::api;
use crate::client::{Client, ClientResult};

/// A background request's result. Messages are handled one at a time as
/// they arrive, so their size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Msg {
    /// `GET /v1/me`: who the token belongs to, which tenants they see.
    Me(ClientResult<api::Me>),
    /// A tenant was created (from the tenant picker).
    TenantCreated(ClientResult<api::TenantBody>),
    /// A reply about one tenant, asked while `epoch` was current.
    Tenant { epoch: u64, reply: Reply },
}

/// What came back for a tenant.
pub enum Reply {
    Settings(ClientResult<api::Settings>),
    Users(ClientResult<api::UserList>),
    Page {
        generation: u64,
        result: ClientResult<api::KeyList>,
    },
    Events(ClientResult<api::EventList>),
    /// One key changed (edit, disable, enable, revoke).
    KeyUpdated {
        verb: &'static str,
        name: String,
        result: ClientResult<api::Key>,
    },
    KeyDeleted {
        id: String,
        name: String,
        result: ClientResult<()>,
    },
    /// A new secret: created, duplicated or regenerated.
    SecretIssued {
        verb: &'static str,
        name: String,
        result: ClientResult<api::KeyWithSecret>,
    },
    Revealed {
        name: String,
        result: ClientResult<api::RevealedSecret>,
    },
    /// Several keys acted on: each key's name and outcome.
    Bulk {
        verb: &'static str,
        hidden: usize,
        results: Vec<(String, ClientResult<api::Key>)>,
    },
    SettingsSaved(ClientResult<api::Settings>),
    /// The settings as they are now, after a save was refused as stale.
    SettingsCurrent(ClientResult<api::Settings>),
    UserSaved {
        name: String,
        result: ClientResult<api::UserBody>,
    },
    UserCreated(ClientResult<api::UserWithToken>),
}

/// Starts requests in the background and counts those in flight.
#[derive(Clone)]
pub struct Net {
    pub client: Client,
    tx: UnboundedSender<Msg>,
    in_flight: Arc<AtomicUsize>,
}

impl Net {
    #[must_use]
    pub fn new(client: Client, tx: UnboundedSender<Msg>) -> Self {
        Self {
            client,
            tx,
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs `work` with a client in the background; its result comes back as a message.
    pub fn spawn<F>(&self, work: impl FnOnce(Client) -> F)
    where
        F: Future<Output = Msg> + Send + 'static,
    {
        let future = work(self.client.clone());
        let (tx, in_flight) = (self.tx.clone(), Arc::clone(&self.in_flight));
        in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let msg = future.await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            let _ = tx.send(msg);
        });
    }

    /// A request about `tenant`, stamped with the `epoch` it was asked in.
    pub fn tenant<F>(&self, tenant: &str, epoch: u64, work: impl FnOnce(Client, String) -> F)
    where
        F: Future<Output = Reply> + Send + 'static,
    {
        let tenant = tenant.to_owned();
        self.spawn(move |client| {
            let reply = work(client, tenant);
            async move {
                Msg::Tenant {
                    epoch,
                    reply: reply.await,
                }
            }
        });
    }

    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}
