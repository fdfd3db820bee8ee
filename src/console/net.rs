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
use crate::client::{Client, ClientResult, FleetApplied};

/// A background request's result. Messages are handled one at a time as
/// they arrive, so their size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Msg {
    /// `GET /v1/me`: who the token belongs to, which tenants they see.
    Me(ClientResult<api::Me>),
    /// A tenant was created (from the tenant picker).
    TenantCreated(ClientResult<api::TenantBody>),
    /// `POST /v1/keys/lookup`: the key of a pasted secret, in any tenant.
    LookedUp(ClientResult<api::LookupResult>),
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
        /// With a revoke: how far the fleet had applied it when it answered.
        fleet: Option<FleetApplied>,
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
    /// `:revoke FILTER`'s dry run: what would be revoked and refused.
    RevokePreview {
        what: String,
        result: ClientResult<api::BulkRevokeResult>,
    },
    /// Several keys revoked in one request: (id, name) of each asked for.
    BulkRevoked {
        hidden: usize,
        names: Vec<(String, String)>,
        result: ClientResult<api::BulkRevokeResult>,
        /// How far the fleet had applied it when it answered.
        fleet: Option<FleetApplied>,
    },
    SettingsSaved(ClientResult<api::Settings>),
    /// The settings as they are now, after a save was refused as stale.
    SettingsCurrent(ClientResult<api::Settings>),
    UserSaved {
        name: String,
        result: ClientResult<api::UserBody>,
    },
    UserCreated(ClientResult<api::UserWithToken>),
    UserDeleted {
        id: String,
        name: String,
        result: ClientResult<()>,
    },
    /// An audit event from the tenant's live stream.
    Event(Box<api::EventBody>),
    /// The live stream connected (true) or dropped and is reconnecting.
    Stream {
        live: bool,
        reason: Option<String>,
    },
    /// The selected key's verifications over 24 h, for the detail's sparkline.
    KeyUsage {
        id: String,
        result: ClientResult<api::UsageHistory>,
    },
    /// The selected key's last audit events, for the detail.
    KeyEvents {
        id: String,
        result: ClientResult<api::EventList>,
    },
    /// A key read again after an event named it (`Err` 404: it is gone).
    KeyRefreshed {
        id: String,
        result: ClientResult<api::Key>,
    },
}

/// A running subscription to the tenant's event stream; dropping it stops
/// the stream (a tenant switch drops the old one).
pub struct Subscription {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How long to wait before reconnecting a dropped stream, at most.
const STREAM_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(10);

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

    /// Follows `tenant`'s event stream from after `last_event_id`: each event
    /// comes back as `Reply::Event`, each connect and drop as
    /// `Reply::Stream`. A dropped stream reconnects by itself with the last
    /// id it delivered, so nothing is lost or repeated. Not counted as a
    /// request in flight (it never ends).
    #[must_use]
    pub fn subscribe(&self, tenant: &str, epoch: u64, last_event_id: Option<i64>) -> Subscription {
        use futures::StreamExt as _;
        let (client, tx, tenant) = (self.client.clone(), self.tx.clone(), tenant.to_owned());
        let send = move |reply: Reply| tx.send(Msg::Tenant { epoch, reply }).is_ok();
        let task = tokio::spawn(async move {
            let mut last = last_event_id;
            let mut backoff = std::time::Duration::from_millis(500);
            loop {
                match client.event_stream(&tenant, last).await {
                    Ok(mut stream) => {
                        backoff = std::time::Duration::from_millis(500);
                        if !send(Reply::Stream {
                            live: true,
                            reason: None,
                        }) {
                            return;
                        }
                        let reason = loop {
                            match stream.next().await {
                                Some(Ok(event)) => {
                                    last = Some(last.map_or(event.id, |l| l.max(event.id)));
                                    if !send(Reply::Event(Box::new(event))) {
                                        return;
                                    }
                                }
                                Some(Err(err)) => break err.to_string(),
                                None => break "the server closed the stream".to_owned(),
                            }
                        };
                        if !send(Reply::Stream {
                            live: false,
                            reason: Some(reason),
                        }) {
                            return;
                        }
                    }
                    Err(err) => {
                        if !send(Reply::Stream {
                            live: false,
                            reason: Some(err.to_string()),
                        }) {
                            return;
                        }
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(STREAM_BACKOFF_MAX);
            }
        });
        Subscription { task }
    }

    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}
