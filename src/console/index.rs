//! The key list's index: which loaded keys are shown, in which order. It is
//! rebuilt on a keystroke (filter, sort) or when pages arrive, never while
//! drawing; drawing only reads the slice that fits on screen.
//!
//! Each key gets a lowercase "haystack" of name, id, owner and start once,
//! when it arrives, so a filter keystroke is one substring scan per key. A
//! filter that extends the previous one only narrows the current result.

use std::cmp::{Ordering, Reverse};

use chrono::{DateTime, Utc};

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

/// A key's position under a sort column: compared as a whole, with the id
/// last so the order is total. Text comes from the lowercase haystack.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey<'a> {
    /// Ties (the same millisecond) go by id descending, as the server pages them.
    Status(u8, Reverse<DateTime<Utc>>, Reverse<&'a str>),
    Text(&'a str, &'a str),
    Newest(Reverse<Option<DateTime<Utc>>>, Reverse<&'a str>),
    /// Soonest first; keys that never expire last.
    Expires(bool, Option<DateTime<Utc>>, &'a str),
}

/// The natural order of a column: newest or most recent first for times,
/// A–Z for text, status then newest first for the status.
fn sort_key<'a>(column: SortColumn, key: &'a Key, haystack: &'a str) -> SortKey<'a> {
    let id = key.id.as_str();
    match column {
        SortColumn::Status => SortKey::Status(
            status_rank(key.status),
            Reverse(key.created_at),
            Reverse(id),
        ),
        SortColumn::Name => SortKey::Text(part(haystack, 0), id),
        SortColumn::Owner => SortKey::Text(part(haystack, 2), id),
        SortColumn::Created => SortKey::Newest(Reverse(Some(key.created_at)), Reverse(id)),
        SortColumn::LastUsed => SortKey::Newest(Reverse(key.last_used_at), Reverse(id)),
        SortColumn::Expires => SortKey::Expires(key.expires_at.is_none(), key.expires_at, id),
    }
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

    fn ordering(&self, keys: &[Key], haystacks: &[String], a: u32, b: u32) -> Ordering {
        let (a, b) = (a as usize, b as usize);
        let ordering = sort_key(self.column, &keys[a], &haystacks[a]).cmp(&sort_key(
            self.column,
            &keys[b],
            &haystacks[b],
        ));
        if self.reversed {
            ordering.reverse()
        } else {
            ordering
        }
    }

    /// Sorts all keys and applies the filter again: after a sort change or a
    /// change to existing keys. Each key's sort key is computed once.
    pub fn rebuild(&mut self, keys: &[Key], haystacks: &[String]) {
        let count = u32::try_from(keys.len()).unwrap_or(u32::MAX);
        let mut sorted: Vec<u32> = (0..count).collect();
        let column = self.column;
        sorted.sort_by_cached_key(|&i| sort_key(column, &keys[i as usize], &haystacks[i as usize]));
        if self.reversed {
            sorted.reverse();
        }
        self.sorted = sorted;
        self.visible = self.matching(&self.sorted, haystacks);
    }

    /// Takes in keys appended from `first_new` on (a page arrived). Pages
    /// that continue the current order just extend it, so loading 100,000
    /// keys page by page costs one pass, not one sort per page.
    pub fn extend(&mut self, keys: &[Key], haystacks: &[String], first_new: usize) {
        let count = u32::try_from(keys.len()).unwrap_or(u32::MAX);
        let first = u32::try_from(first_new).unwrap_or(u32::MAX);
        let fresh: Vec<u32> = (first..count).collect();
        let in_order = fresh
            .windows(2)
            .all(|w| self.ordering(keys, haystacks, w[0], w[1]) != Ordering::Greater)
            && match (self.sorted.last(), fresh.first()) {
                (Some(&last), Some(&next)) => {
                    self.ordering(keys, haystacks, last, next) != Ordering::Greater
                }
                _ => true,
            };
        if !in_order {
            self.rebuild(keys, haystacks);
            return;
        }
        let matching = self.matching(&fresh, haystacks);
        self.sorted.extend(fresh);
        self.visible.extend(matching);
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
pub(crate) mod tests {
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
    fn pages_in_order_extend_the_index_and_others_resort_it() {
        let mut keys = vec![
            key("a-new", KeyStatus::Active, 1),
            key("b-old", KeyStatus::Active, 9),
        ];
        let mut hay: Vec<_> = keys.iter().map(haystack).collect();
        let mut index = KeyIndex::default();
        index.rebuild(&keys, &hay);
        keys.push(key("c-revoked", KeyStatus::Revoked, 5));
        hay.push(haystack(&keys[2]));
        index.extend(&keys, &hay, 2);
        assert_eq!(names(&index, &keys), ["a-new", "b-old", "c-revoked"]);
        keys.push(key("d-newest", KeyStatus::Active, 0));
        hay.push(haystack(&keys[3]));
        index.extend(&keys, &hay, 3);
        assert_eq!(
            names(&index, &keys),
            ["d-newest", "a-new", "b-old", "c-revoked"]
        );
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
