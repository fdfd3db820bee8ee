//! The key list's index: which loaded keys are shown, in which order. It is
//! rebuilt on a keystroke (filter, sort) or when pages arrive, never while
//! drawing; drawing only reads the slice that fits on screen.
//!
//! Each key gets a lowercase "haystack" of name, id, owner and start once,
//! when it arrives, so a filter keystroke is one substring scan per key. A
//! filter that extends the previous one only narrows the current result.
//!
//! The filter is words, all of which must match: plain text (in name, ID,
//! owner or start), `field:value` for one field (`status:active`,
//! `owner:bo`, `name:`, `id:`, `start:`), `is:rotating` and
//! `is:suspicious`, and `-` before any of them to exclude
//! (`-status:revoked`).

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
    /// Highest 24 h error rate first; keys without traffic last.
    ErrorRate,
    /// Most verifications in 24 h first.
    Volume,
}

impl SortColumn {
    pub const ALL: [SortColumn; 8] = [
        SortColumn::Status,
        SortColumn::Name,
        SortColumn::Owner,
        SortColumn::Created,
        SortColumn::LastUsed,
        SortColumn::Expires,
        SortColumn::ErrorRate,
        SortColumn::Volume,
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
            SortColumn::ErrorRate => "error rate",
            SortColumn::Volume => "24h volume",
        }
    }

    /// The column a label names (`s` offers the labels).
    #[must_use]
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.label() == label)
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
    /// Highest rate first (in millionths); no traffic last.
    Rate(bool, Reverse<u64>, &'a str),
    /// Most first.
    Count(Reverse<u64>, Reverse<&'a str>),
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
        SortColumn::ErrorRate => {
            let rate = key.usage_24h.error_rate();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let millionths = rate.map_or(0, |r| (r * 1_000_000.0) as u64);
            SortKey::Rate(rate.is_none(), Reverse(millionths), id)
        }
        SortColumn::Volume => SortKey::Count(
            Reverse(key.usage_24h.valid + key.usage_24h.failed),
            Reverse(id),
        ),
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

/// The field a filter word is limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Any,
    Name,
    Id,
    Owner,
    Start,
    Status,
    /// `is:rotating`, `is:suspicious`.
    Is,
}

/// One word of the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    exclude: bool,
    field: Field,
    needle: String,
}

impl Term {
    fn parse(word: &str) -> Self {
        let (exclude, rest) = match word.strip_prefix('-') {
            Some(rest) if !rest.is_empty() => (true, rest),
            _ => (false, word),
        };
        let (field, needle) = match rest.split_once(':') {
            Some(("status", v)) => (Field::Status, v),
            Some(("owner", v)) => (Field::Owner, v),
            Some(("name", v)) => (Field::Name, v),
            Some(("id", v)) => (Field::Id, v),
            Some(("start", v)) => (Field::Start, v),
            Some(("is", v)) => (Field::Is, v),
            _ => (Field::Any, rest),
        };
        Self {
            exclude,
            field,
            needle: needle.to_owned(),
        }
    }

    fn matches(&self, key: &Key, haystack: &str) -> bool {
        let found = match self.field {
            Field::Any => haystack.contains(&self.needle),
            Field::Name => part(haystack, 0).contains(&self.needle),
            Field::Id => part(haystack, 1).contains(&self.needle),
            Field::Owner => part(haystack, 2).contains(&self.needle),
            Field::Start => part(haystack, 3).contains(&self.needle),
            Field::Status => key.status.as_str().starts_with(&self.needle),
            Field::Is => {
                ("rotating".starts_with(&self.needle) && key.rotating_until.is_some())
                    || ("suspicious".starts_with(&self.needle) && key.suspicious.is_some())
            }
        };
        found != self.exclude
    }
}

fn parse_filter(filter: &str) -> Vec<Term> {
    filter.split_whitespace().map(Term::parse).collect()
}

#[derive(Debug, Default)]
pub struct KeyIndex {
    /// Every loaded key, sorted.
    sorted: Vec<u32>,
    /// The sorted keys that match the filter: what the list shows.
    visible: Vec<u32>,
    filter: String,
    terms: Vec<Term>,
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
        self.visible = self.matching(&self.sorted, keys, haystacks);
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
        let matching = self.matching(&fresh, keys, haystacks);
        self.sorted.extend(fresh);
        self.visible.extend(matching);
    }

    /// Sets the filter; narrows the current result when the new filter
    /// extends the old one (and excludes nothing, which could widen it).
    pub fn set_filter(&mut self, filter: &str, keys: &[Key], haystacks: &[String]) {
        let filter = filter.to_lowercase();
        let terms = parse_filter(&filter);
        // Typing more plain text only narrows; a field word or an exclusion
        // may widen as it is typed (`status` becomes `status:`), so it does not.
        let plain = |f: &str| !f.contains(':') && !f.split_whitespace().any(|w| w.starts_with('-'));
        let narrowing =
            filter.starts_with(&self.filter) && !self.filter.is_empty() && plain(&filter);
        self.filter = filter;
        self.terms = terms;
        self.visible = if narrowing {
            self.matching(&self.visible, keys, haystacks)
        } else {
            self.matching(&self.sorted, keys, haystacks)
        };
    }

    fn matching(&self, from: &[u32], keys: &[Key], haystacks: &[String]) -> Vec<u32> {
        if self.terms.is_empty() {
            return from.to_vec();
        }
        from.iter()
            .copied()
            .filter(|&i| {
                let (key, hay) = (&keys[i as usize], haystacks[i as usize].as_str());
                self.terms.iter().all(|t| t.matches(key, hay))
            })
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
            rotating_until: None,
            rate_limit: None,
            usage_24h: Usage24h::default(),
            version: 1,
            suspicious: None,
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
        index.set_filter("BIL", &keys, &hay);
        assert_eq!(index.visible().len(), 2);
        index.set_filter("billing-s", &keys, &hay);
        assert_eq!(names(&index, &keys), ["billing-sync"]);
        index.set_filter("billing-", &keys, &hay);
        assert_eq!(index.visible().len(), 2);
        index.set_filter("key_ci", &keys, &hay);
        assert_eq!(names(&index, &keys), ["ci-deploy"]);
        index.set_filter("ana", &keys, &hay);
        assert_eq!(index.visible().len(), 3, "owner matches");
    }

    #[test]
    fn field_words_and_exclusions_filter_as_written() {
        let mut keys = vec![
            key("billing-sync", KeyStatus::Active, 1),
            key("billing-old", KeyStatus::Revoked, 2),
            key("ci-deploy", KeyStatus::Disabled, 3),
        ];
        keys[2].owner.name = "bo".into();
        let hay: Vec<_> = keys.iter().map(haystack).collect();
        let mut index = KeyIndex::default();
        index.rebuild(&keys, &hay);
        index.set_filter("status:active", &keys, &hay);
        assert_eq!(names(&index, &keys), ["billing-sync"]);
        index.set_filter("-status:revoked", &keys, &hay);
        assert_eq!(names(&index, &keys), ["billing-sync", "ci-deploy"]);
        index.set_filter("-status:re", &keys, &hay);
        index.set_filter("-status:rev", &keys, &hay);
        assert_eq!(
            index.visible().len(),
            2,
            "a longer exclusion does not narrow"
        );
        index.set_filter("owner:bo", &keys, &hay);
        assert_eq!(names(&index, &keys), ["ci-deploy"]);
        for typed in ["s", "st", "status", "status:", "status:d"] {
            index.set_filter(typed, &keys, &hay);
        }
        assert_eq!(
            names(&index, &keys),
            ["ci-deploy"],
            "typed letter by letter"
        );
        index.set_filter("bill -name:old", &keys, &hay);
        assert_eq!(names(&index, &keys), ["billing-sync"]);
    }

    #[test]
    fn error_rate_sorts_highest_first_and_quiet_keys_last() {
        let mut keys = vec![
            key("quiet", KeyStatus::Active, 1),
            key("bad", KeyStatus::Active, 2),
            key("fine", KeyStatus::Active, 3),
        ];
        keys[1].usage_24h = Usage24h {
            valid: 1,
            failed: 9,
        };
        keys[2].usage_24h = Usage24h {
            valid: 99,
            failed: 1,
        };
        let hay: Vec<_> = keys.iter().map(haystack).collect();
        let mut index = KeyIndex {
            column: SortColumn::ErrorRate,
            ..KeyIndex::default()
        };
        index.rebuild(&keys, &hay);
        assert_eq!(names(&index, &keys), ["bad", "fine", "quiet"]);
    }
}
