//! The key list's index: which loaded keys are shown, in which order. It is
//! rebuilt on a keystroke (filter, sort) or when pages arrive, never while
//! drawing; drawing only reads the slice that fits on screen.
//!
//! Each key gets a lowercase "haystack" of name, id, owner and start once,
//! when it arrives, so a filter keystroke is one substring scan per key. A
//! filter that extends the previous one only narrows the current result.

use std::cmp::Ordering;

use crate::api::Key;
use crate::domain::KeyStatus;

/// The columns `s` cycles through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortColumn {
    /// Status (active, disabled, expired, revoked), then newest first (seed 002).
    #[default]
    Status,
    Name,
    Owner,
    Created,
    LastUsed,
    Expires,
}

impl SortColumn {
    pub const ALL: [SortColumn; 6] = [
        SortColumn::Status,
        SortColumn::Name,
        SortColumn::Owner,
        SortColumn::Created,
        SortColumn::LastUsed,
        SortColumn::Expires,
    ];

    #[must_use]
    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Status => "status",
            SortColumn::Name => "name",
            SortColumn::Owner => "owner",
            SortColumn::Created => "created",
            SortColumn::LastUsed => "last used",
            SortColumn::Expires => "expires",
        }
    }
}

fn status_rank(status: KeyStatus) -> u8 {
    match status {
        KeyStatus::Active => 0,
        KeyStatus::Disabled => 1,
        KeyStatus::Expired => 2,
        KeyStatus::Revoked => 3,
    }
}

/// The lowercase field `n` of a haystack (0 name, 1 id, 2 owner, 3 start).
fn part(haystack: &str, n: usize) -> &str {
    haystack.split('\u{1f}').nth(n).unwrap_or("")
}

/// Natural order of a column: newest/most recent first for times, A–Z for
/// text (compared on the precomputed lowercase haystacks: no allocation).
fn compare(column: SortColumn, a: (&Key, &str), b: (&Key, &str)) -> Ordering {
    let ((a, a_text), (b, b_text)) = (a, b);
    let newest_first = || b.created_at.cmp(&a.created_at);
    let ordering = match column {
        SortColumn::Status => status_rank(a.status)
            .cmp(&status_rank(b.status))
            .then_with(newest_first),
        SortColumn::Name => part(a_text, 0).cmp(part(b_text, 0)),
        SortColumn::Owner => part(a_text, 2).cmp(part(b_text, 2)),
        SortColumn::Created => newest_first(),
        SortColumn::LastUsed => b.last_used_at.cmp(&a.last_used_at),
        // Soonest first; keys that never expire last.
        SortColumn::Expires => match (a.expires_at, b.expires_at) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
    };
    ordering.then_with(|| a.id.cmp(&b.id))
}

/// The lowercase text a filter searches in.
#[must_use]
pub fn haystack(key: &Key) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        key.name, key.id, key.owner.name, key.start
    )
    .to_lowercase()
}

#[derive(Debug, Default)]
pub struct KeyIndex {
    /// Every loaded key, sorted.
    sorted: Vec<u32>,
    /// The sorted keys that match the filter: what the list shows.
    visible: Vec<u32>,
    filter: String,
    pub column: SortColumn,
    pub reversed: bool,
}

impl KeyIndex {
    #[must_use]
    pub fn visible(&self) -> &[u32] {
        &self.visible
    }

    #[must_use]
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Sorts all keys and applies the filter again: after a load or a sort change.
    pub fn rebuild(&mut self, keys: &[Key], haystacks: &[String]) {
        let count = u32::try_from(keys.len()).unwrap_or(u32::MAX);
        self.sorted = (0..count).collect();
        let (column, reversed) = (self.column, self.reversed);
        self.sorted.sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            let ordering = compare(column, (&keys[a], &haystacks[a]), (&keys[b], &haystacks[b]));
            if reversed {
                ordering.reverse()
            } else {
                ordering
            }
        });
        self.visible = self.matching(&self.sorted, haystacks);
    }

    /// Sets the filter; narrows the current result when the new filter extends the old one.
    pub fn set_filter(&mut self, filter: &str, haystacks: &[String]) {
        let filter = filter.to_lowercase();
        let narrowing = filter.starts_with(&self.filter) && !self.filter.is_empty();
        self.filter = filter;
        self.visible = if narrowing {
            self.matching(&self.visible, haystacks)
        } else {
            self.matching(&self.sorted, haystacks)
        };
    }

    fn matching(&self, from: &[u32], haystacks: &[String]) -> Vec<u32> {
        if self.filter.is_empty() {
            return from.to_vec();
        }
        from.iter()
            .copied()
            .filter(|&i| haystacks[i as usize].contains(&self.filter))
            .collect()
    }

    /// Position of key `index` among the visible ones.
    #[must_use]
    pub fn position_of(&self, index: u32) -> Option<usize> {
        self.visible.iter().position(|&i| i == index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Usage24h;
    use crate::domain::{UserId, UserRef};
    use chrono::{Duration, Utc};

    pub(crate) fn key(name: &str, status: KeyStatus, age_minutes: i64) -> Key {
        let user = UserRef {
            id: UserId::from_trusted("usr_ana".into()),
            name: "ana".into(),
        };
        let at = Utc::now() - Duration::minutes(age_minutes);
        Key {
            id: format!("key_{name}"),
            tenant: "acme".into(),
            name: name.into(),
            description: String::new(),
            owner: user.clone(),
            scopes: vec![],
            status,
            created_at: at,
            created_by: user.clone(),
            updated_at: at,
            updated_by: user,
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
            revoked_by: None,
            start: "kd_abcd".into(),
            secret_retrievable: false,
            previous_secret_valid_until: None,
            usage_24h: Usage24h::default(),
            version: 1,
        }
    }

    fn names(index: &KeyIndex, keys: &[Key]) -> Vec<String> {
        index
            .visible()
            .iter()
            .map(|&i| keys[i as usize].name.clone())
            .collect()
    }

    #[test]
    fn default_sort_is_status_then_newest_first() {
        let keys = vec![
            key("old-active", KeyStatus::Active, 50),
            key("revoked", KeyStatus::Revoked, 1),
            key("new-active", KeyStatus::Active, 5),
            key("disabled", KeyStatus::Disabled, 2),
        ];
        let hay: Vec<_> = keys.iter().map(haystack).collect();
        let mut index = KeyIndex::default();
        index.rebuild(&keys, &hay);
        assert_eq!(
            names(&index, &keys),
            ["new-active", "old-active", "disabled", "revoked"]
        );
        index.reversed = true;
        index.rebuild(&keys, &hay);
        assert_eq!(
            names(&index, &keys),
            ["revoked", "disabled", "old-active", "new-active"]
        );
    }

    #[test]
    fn name_and_owner_sorts_ignore_case() {
        let mut keys = vec![
            key("beta", KeyStatus::Active, 1),
            key("Alpha", KeyStatus::Active, 2),
            key("gamma", KeyStatus::Active, 3),
        ];
        keys[0].owner.name = "Zed".into();
        keys[1].owner.name = "amy".into();
        keys[2].owner.name = "Bob".into();
        let hay: Vec<_> = keys.iter().map(haystack).collect();
        let mut index = KeyIndex {
            column: SortColumn::Name,
            ..KeyIndex::default()
        };
        index.rebuild(&keys, &hay);
        assert_eq!(names(&index, &keys), ["Alpha", "beta", "gamma"]);
        index.column = SortColumn::Owner;
        index.rebuild(&keys, &hay);
        assert_eq!(names(&index, &keys), ["Alpha", "gamma", "beta"]);
    }

    #[test]
    fn filter_narrows_with_each_keystroke_and_widens_on_backspace() {
        let keys = vec![
            key("billing-sync", KeyStatus::Active, 1),
            key("billing-export", KeyStatus::Active, 2),
            key("ci-deploy", KeyStatus::Active, 3),
        ];
        let hay: Vec<_> = keys.iter().map(haystack).collect();
        let mut index = KeyIndex::default();
        index.rebuild(&keys, &hay);
        index.set_filter("BIL", &hay);
        assert_eq!(index.visible().len(), 2);
        index.set_filter("billing-s", &hay);
        assert_eq!(names(&index, &keys), ["billing-sync"]);
        index.set_filter("billing-", &hay);
        assert_eq!(index.visible().len(), 2);
        index.set_filter("key_ci", &hay);
        assert_eq!(names(&index, &keys), ["ci-deploy"]);
        index.set_filter("ana", &hay);
        assert_eq!(index.visible().len(), 3, "owner matches");
    }
}
