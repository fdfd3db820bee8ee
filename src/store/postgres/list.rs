//! The key list on PostgreSQL: the same queries, sorts and cursors as
//! SQLite's (`sqlite.rs`, "key lists"), so a page, its order and its next
//! cursor are the same on both backends. Text columns compare byte by byte
//! (`COLLATE "C"`, migration 0001), as SQLite's do.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use super::{KEY_SELECT, key_from_row};
use crate::domain::{KeyStatus, Refusal};
use crate::store::{KeyCursor, KeyPage, KeyQuery, SortField, SortValue, StoreResult};

/// Builds SQL left to right, numbering `$n` placeholders in the order they
/// appear.
pub(super) struct Sql {
    text: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Sql {
    pub(super) fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub(super) fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> &mut Self {
        self.params.push(Box::new(value));
        self.text.push_str(&format!("${}", self.params.len()));
        self
    }

    /// Runs the query (prepared once: its text varies with the filters).
    pub(super) async fn query<C: GenericClient>(&self, client: &C) -> StoreResult<Vec<Row>> {
        let params: Vec<&(dyn ToSql + Sync)> = self
            .params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        Ok(client.query(self.text.as_str(), &params).await?)
    }
}

/// Keys at or beyond this value in the status sort belong to the next status group.
const STATUS_GROUP: i64 = 10_000_000_000_000;
const NEVER: i64 = 9_000_000_000_000_000;

fn status_rank(status: KeyStatus) -> i64 {
    match status {
        KeyStatus::Active => 0,
        KeyStatus::Disabled => 1,
        KeyStatus::Expired => 2,
        KeyStatus::Revoked => 3,
    }
}

/// Appends the sort expression of `field`; true when its natural direction
/// is ascending (name and expires).
fn push_sort_expression(sql: &mut Sql, field: SortField) -> bool {
    match field {
        SortField::Name => {
            sql.push("k.name_lower");
            true
        }
        SortField::Created | SortField::Status => {
            sql.push("k.created_at");
            false
        }
        SortField::LastUsed => {
            sql.push("COALESCE(k.last_used_at, -1)");
            false
        }
        SortField::Expires => {
            sql.push(&format!("COALESCE(k.expires_at, {NEVER})"));
            true
        }
    }
}

fn like_pattern(q: &str) -> String {
    let mut escaped = String::with_capacity(q.len() + 2);
    escaped.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

fn push_status_condition(sql: &mut Sql, status: KeyStatus, now: i64) {
    match status {
        KeyStatus::Active | KeyStatus::Disabled => {
            let lifecycle = if status == KeyStatus::Active {
                "'active'"
            } else {
                "'disabled'"
            };
            sql.push(&format!(
                " AND k.lifecycle = {lifecycle} AND (k.expires_at IS NULL OR k.expires_at > "
            ))
            .bind(now)
            .push(")");
        }
        KeyStatus::Expired => {
            sql.push(" AND k.lifecycle IN ('active', 'disabled') AND k.expires_at IS NOT NULL")
                .push(" AND k.expires_at <= ")
                .bind(now);
        }
        KeyStatus::Revoked => {
            sql.push(" AND k.lifecycle = 'revoked'");
        }
    }
}

fn push_id_list(sql: &mut Sql, ids: &[String]) {
    sql.push("k.id = ANY(").bind(ids.to_vec()).push(")");
}

fn push_filters(sql: &mut Sql, query: &KeyQuery, now: i64) {
    if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = like_pattern(q);
        sql.push(" AND (k.search_text LIKE ")
            .bind(pattern.clone())
            .push(
                " ESCAPE '\\' OR k.owner_id IN (SELECT u.id FROM users u WHERE u.name_lower LIKE ",
            )
            .bind(pattern)
            .push(" ESCAPE '\\'))");
    }
    if let Some(owner) = &query.owner {
        sql.push(" AND k.owner_id IN (SELECT u.id FROM users u WHERE u.id = ")
            .bind(owner.clone())
            .push(" OR u.name = ")
            .bind(owner.clone())
            .push(")");
    }
    if let Some(ids) = &query.only_ids {
        sql.push(" AND ");
        push_id_list(sql, ids);
    }
    if query.rotating {
        sql.push(" AND k.lifecycle <> 'revoked' AND k.previous_secret_digest IS NOT NULL")
            .push(" AND k.previous_secret_valid_until > ")
            .bind(now);
    }
    if let Some(creator) = &query.created_by {
        sql.push(" AND k.created_by IN (SELECT u.id FROM users u WHERE u.id = ")
            .bind(creator.clone())
            .push(" OR u.name = ")
            .bind(creator.clone())
            .push(")");
    }
    if let Some(scope) = &query.scope {
        // `scopes` is a JSON array of strings: `%"scope"%` matches one element.
        sql.push(" AND k.scopes LIKE ")
            .bind(like_pattern(&format!("\"{scope}\"")))
            .push(" ESCAPE '\\'");
    }
}

fn status_group_sql(
    tenant: &str,
    query: &KeyQuery,
    status: KeyStatus,
    now: i64,
    after: Option<(i64, &str)>,
    fetch: i64,
) -> Sql {
    let rank = status_rank(status);
    let inner = if query.sort.reversed { "ASC" } else { "DESC" };
    let mut sql = Sql::new(&format!(
        "SELECT k.id, {rank}::bigint * {STATUS_GROUP} + ({STATUS_GROUP} - k.created_at) FROM keys k WHERE k.tenant_id = "
    ));
    sql.bind(tenant.to_owned());
    push_status_condition(&mut sql, status, now);
    push_filters(&mut sql, query, now);
    if let Some((created, id)) = after {
        sql.push(" AND (k.created_at, k.id) ")
            .push(if query.sort.reversed { ">" } else { "<" })
            .push(" (")
            .bind(created)
            .push(", ")
            .bind(id.to_owned())
            .push(")");
    }
    sql.push(&format!(
        " ORDER BY k.created_at {inner}, k.id {inner} LIMIT "
    ))
    .bind(fetch);
    sql
}

type PageRows = Vec<(String, SortValue)>;

/// A filter that matches at most this many keys is sorted in memory.
const FEW_MATCHES: i64 = 2000;

async fn few_matches_status_page<C: GenericClient>(
    conn: &C,
    tenant: &str,
    query: &KeyQuery,
    now: i64,
    fetch: i64,
) -> StoreResult<Option<(PageRows, i64)>> {
    let mut sql = Sql::new(
        "SELECT k.id, k.lifecycle, k.expires_at, k.created_at FROM keys k WHERE k.tenant_id = ",
    );
    sql.bind(tenant.to_owned());
    if let Some(status) = query.status {
        push_status_condition(&mut sql, status, now);
    }
    push_filters(&mut sql, query, now);
    sql.push(" LIMIT ").bind(FEW_MATCHES + 1);
    let mut rows: Vec<(i64, String)> = Vec::new();
    for row in sql.query(conn).await? {
        let lifecycle: String = row.try_get(1)?;
        let expires_at: Option<i64> = row.try_get(2)?;
        let created_at: i64 = row.try_get(3)?;
        let status = match lifecycle.as_str() {
            "revoked" => KeyStatus::Revoked,
            _ if expires_at.is_some_and(|at| at <= now) => KeyStatus::Expired,
            "disabled" => KeyStatus::Disabled,
            _ => KeyStatus::Active,
        };
        rows.push((
            status_rank(status) * STATUS_GROUP + (STATUS_GROUP - created_at),
            row.try_get(0)?,
        ));
    }
    let total = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    if total > FEW_MATCHES {
        return Ok(None);
    }
    let reversed = query.sort.reversed;
    let order = |(va, ia): &(i64, String), (vb, ib): &(i64, String)| {
        let natural = va.cmp(vb).then_with(|| ib.cmp(ia));
        if reversed { natural.reverse() } else { natural }
    };
    rows.sort_by(order);
    if let Some(KeyCursor {
        value: SortValue::Int(value),
        id,
    }) = &query.cursor
    {
        let at = (*value, id.clone());
        rows.retain(|row| order(row, &at) == std::cmp::Ordering::Greater);
    }
    let page = rows
        .into_iter()
        .take(usize::try_from(fetch).unwrap_or(usize::MAX))
        .map(|(value, id)| (id, SortValue::Int(value)))
        .collect();
    Ok(Some((page, total)))
}

fn not_a_cursor() -> crate::store::StoreError {
    Refusal::invalid("VALIDATION_FAILED", "cursor: not a cursor from this list").into()
}

async fn status_page<C: GenericClient>(
    conn: &C,
    tenant: &str,
    query: &KeyQuery,
    now: i64,
    fetch: i64,
) -> StoreResult<PageRows> {
    let cursor = match &query.cursor {
        None => None,
        Some(KeyCursor {
            value: SortValue::Int(v),
            id,
        }) => Some((
            v.div_euclid(STATUS_GROUP),
            STATUS_GROUP - v.rem_euclid(STATUS_GROUP),
            id.as_str(),
        )),
        Some(_) => return Err(not_a_cursor()),
    };
    let mut groups: Vec<KeyStatus> = match query.status {
        Some(status) => vec![status],
        None => KeyStatus::ALL.to_vec(),
    };
    if query.sort.reversed {
        groups.reverse();
    }
    let mut rows = Vec::new();
    for status in groups {
        let rank = status_rank(status);
        let after = match cursor {
            Some((at_rank, _, _)) if (rank < at_rank) != query.sort.reversed && rank != at_rank => {
                continue;
            }
            Some((at_rank, created, id)) if rank == at_rank => Some((created, id)),
            _ => None,
        };
        let remaining = fetch - i64::try_from(rows.len()).unwrap_or(fetch);
        if remaining <= 0 {
            break;
        }
        let sql = status_group_sql(tenant, query, status, now, after, remaining);
        for row in sql.query(conn).await? {
            rows.push((row.try_get(0)?, SortValue::Int(row.try_get(1)?)));
        }
    }
    Ok(rows)
}

fn sorted_page_sql(tenant: &str, query: &KeyQuery, now: i64, fetch: i64) -> StoreResult<Sql> {
    let mut sql = Sql::new("SELECT k.id, ");
    let ascending = push_sort_expression(&mut sql, query.sort.field) != query.sort.reversed;
    sql.push(" AS sort_value FROM keys k WHERE k.tenant_id = ")
        .bind(tenant.to_owned());
    if let Some(status) = query.status {
        push_status_condition(&mut sql, status, now);
    }
    push_filters(&mut sql, query, now);
    if let Some(cursor) = &query.cursor {
        sql.push(" AND (");
        push_sort_expression(&mut sql, query.sort.field);
        sql.push(", k.id) ")
            .push(if ascending { ">" } else { "<" })
            .push(" (");
        // PostgreSQL compares only like with like: a cursor of another
        // sort's type is refused, not compared.
        match (&cursor.value, query.sort.field) {
            (SortValue::Text(v), SortField::Name) => sql.bind(v.clone()),
            (SortValue::Int(v), field) if field != SortField::Name => sql.bind(*v),
            _ => return Err(not_a_cursor()),
        };
        sql.push(", ").bind(cursor.id.clone()).push(")");
    }
    let direction = if ascending { "ASC" } else { "DESC" };
    sql.push(&format!(
        " ORDER BY sort_value {direction}, k.id {direction} LIMIT "
    ))
    .bind(fetch);
    Ok(sql)
}

pub(super) async fn list_keys<C: GenericClient>(
    conn: &C,
    tenant: &str,
    query: &KeyQuery,
    now: i64,
) -> StoreResult<KeyPage> {
    let limit = query.limit.clamp(1, 1000);
    let fetch = i64::from(limit) + 1;
    let filtered = query.q.is_some()
        || query.owner.is_some()
        || query.only_ids.is_some()
        || query.rotating
        || query.created_by.is_some()
        || query.scope.is_some();
    let count = async || -> StoreResult<i64> {
        let mut count = Sql::new("SELECT COUNT(*) FROM keys k WHERE k.tenant_id = ");
        count.bind(tenant.to_owned());
        if let Some(status) = query.status {
            push_status_condition(&mut count, status, now);
        }
        push_filters(&mut count, query, now);
        let rows = count.query(conn).await?;
        Ok(rows
            .first()
            .map(|row| row.try_get(0))
            .transpose()?
            .unwrap_or(0))
    };

    let few = if filtered && query.sort.field == SortField::Status {
        few_matches_status_page(conn, tenant, query, now, fetch).await?
    } else {
        None
    };
    let (mut rows, total): (PageRows, i64) = if let Some(few) = few {
        few
    } else if query.sort.field == SortField::Status {
        (
            status_page(conn, tenant, query, now, fetch).await?,
            count().await?,
        )
    } else {
        let sql = sorted_page_sql(tenant, query, now, fetch)?;
        let mut rows = Vec::new();
        for row in sql.query(conn).await? {
            let value = if *row.columns()[1].type_() == Type::TEXT {
                SortValue::Text(row.try_get(1)?)
            } else {
                SortValue::Int(row.try_get(1)?)
            };
            rows.push((row.try_get(0)?, value));
        }
        (rows, count().await?)
    };
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|(id, value)| KeyCursor {
            value: value.clone(),
            id: id.clone(),
        })
    } else {
        None
    };

    let keys = if rows.is_empty() {
        Vec::new()
    } else {
        let ids: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
        let mut fetch = Sql::new(KEY_SELECT);
        fetch.push(" WHERE ");
        push_id_list(&mut fetch, &ids);
        let mut by_id: HashMap<String, _> = HashMap::new();
        for row in fetch.query(conn).await? {
            let key = key_from_row(&row)?;
            by_id.insert(key.id.as_str().to_owned(), key);
        }
        rows.iter().filter_map(|(id, _)| by_id.remove(id)).collect()
    };

    Ok(KeyPage {
        keys,
        next_cursor,
        total: u64::try_from(total).unwrap_or(0),
    })
}
