//! Reading columns of an `AnyRow` into domain values; anything unreadable is [`StoreError::Corrupt`].

use std::str::FromStr;

use pim_domain::{ScopePath, Timestamp};
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{Row, ValueRef as _};
use uuid::Uuid;

use crate::error::{Result, StoreError};

fn decode_err(row: &AnyRow, i: usize, e: sqlx::Error) -> StoreError {
    let name = row.columns().get(i).map(|c| sqlx::Column::name(c).to_owned()).unwrap_or_else(|| i.to_string());
    StoreError::corrupt(format!("column {name}: {e}"))
}

/// A text column.
pub(crate) fn text(row: &AnyRow, i: usize) -> Result<String> {
    row.try_get::<String, _>(i).map_err(|e| decode_err(row, i, e))
}

/// A text column, borrowed from the row (no allocation).
pub(crate) fn str_ref(row: &AnyRow, i: usize) -> Result<&str> {
    row.try_get::<&str, _>(i).map_err(|e| decode_err(row, i, e))
}

/// A nullable text column, borrowed from the row.
pub(crate) fn opt_str_ref(row: &AnyRow, i: usize) -> Result<Option<&str>> {
    row.try_get::<Option<&str>, _>(i).map_err(|e| decode_err(row, i, e))
}

/// A nullable text column.
pub(crate) fn opt_text(row: &AnyRow, i: usize) -> Result<Option<String>> {
    row.try_get::<Option<String>, _>(i).map_err(|e| decode_err(row, i, e))
}

/// A BIGINT column.
pub(crate) fn int(row: &AnyRow, i: usize) -> Result<i64> {
    row.try_get::<i64, _>(i).map_err(|e| decode_err(row, i, e))
}

/// A nullable BIGINT column.
pub(crate) fn opt_int(row: &AnyRow, i: usize) -> Result<Option<i64>> {
    row.try_get::<Option<i64>, _>(i).map_err(|e| decode_err(row, i, e))
}

/// A boolean column: BOOLEAN in PostgreSQL, INTEGER 0/1 in SQLite.
pub(crate) fn boolean(row: &AnyRow, i: usize) -> Result<bool> {
    let raw = row.try_get_raw(i).map_err(|e| decode_err(row, i, e))?;
    let is_bool = !raw.is_null() && raw.type_info().kind() == AnyTypeInfoKind::Bool;
    let v = if is_bool { row.try_get::<bool, _>(i) } else { row.try_get::<i64, _>(i).map(|v| v != 0) };
    v.map_err(|e| decode_err(row, i, e))
}

/// A timestamp column.
pub(crate) fn ts(row: &AnyRow, i: usize) -> Result<Timestamp> {
    int(row, i).map(Timestamp)
}

/// A nullable timestamp column.
pub(crate) fn opt_ts(row: &AnyRow, i: usize) -> Result<Option<Timestamp>> {
    opt_int(row, i).map(|v| v.map(Timestamp))
}

fn parse_uuid(row: &AnyRow, i: usize, s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| decode_err(row, i, sqlx::Error::Decode(Box::new(e))))
}

/// An id column.
pub(crate) fn id<T: From<Uuid>>(row: &AnyRow, i: usize) -> Result<T> {
    parse_uuid(row, i, str_ref(row, i)?).map(T::from)
}

/// A nullable id column.
pub(crate) fn opt_id<T: From<Uuid>>(row: &AnyRow, i: usize) -> Result<Option<T>> {
    match opt_str_ref(row, i)? {
        Some(s) => parse_uuid(row, i, s).map(|u| Some(T::from(u))),
        None => Ok(None),
    }
}

/// A scope column.
pub(crate) fn scope(row: &AnyRow, i: usize) -> Result<ScopePath> {
    ScopePath::from_str(str_ref(row, i)?).map_err(|e| decode_err(row, i, sqlx::Error::Decode(Box::new(e))))
}

/// A nullable scope column.
pub(crate) fn opt_scope(row: &AnyRow, i: usize) -> Result<Option<ScopePath>> {
    match opt_str_ref(row, i)? {
        Some(s) => ScopePath::from_str(s).map(Some).map_err(|e| decode_err(row, i, sqlx::Error::Decode(Box::new(e)))),
        None => Ok(None),
    }
}

/// A text column holding one of an enum's stored names.
pub(crate) fn name<T>(row: &AnyRow, i: usize, parse: fn(&str) -> Option<T>) -> Result<T> {
    let s = str_ref(row, i)?;
    parse(s).ok_or_else(|| decode_err(row, i, sqlx::Error::Decode(format!("unknown value '{s}'").into())))
}

/// A JSON text column.
pub(crate) fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, i: usize) -> Result<T> {
    serde_json::from_str(str_ref(row, i)?).map_err(|e| decode_err(row, i, sqlx::Error::Decode(Box::new(e))))
}

/// Serializes a value stored as JSON text.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::corrupt(format!("cannot serialize to JSON: {e}")))
}
