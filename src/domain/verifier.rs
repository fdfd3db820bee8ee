//! Verifier tokens: service credentials of one tenant that may call only
//! `POST /v1/verify`. A verification made with one is bound to its tenant
//! (a key of any other tenant is `NOT_FOUND`), and is answered in full, as
//! to a caller authenticated for that tenant. Like management tokens, a
//! verifier's token is shown once and only its keyed digest is stored.

use chrono::{DateTime, Utc};

use super::key::UserRef;
use super::tenant::TenantId;
use super::text::DisplayName;

super::id::ulid_id!(
    /// A verifier's id: `ver_` + ULID.
    VerifierId,
    "ver"
);

/// A tenant's verifier: who it is for (its name, e.g. the calling service)
/// and who made it. Never holds its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    pub id: VerifierId,
    pub tenant_id: TenantId,
    pub name: DisplayName,
    pub created_at: DateTime<Utc>,
    pub created_by: UserRef,
}
