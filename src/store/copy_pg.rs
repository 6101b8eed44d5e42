//! The PostgreSQL side of a store copy (copy.rs): a table's columns with their types, its rows
//! read through a cursor of the copy's snapshot, a batch written in one insert from one array
//! per column (`unnest`), and the identity sequences moved past the copied ids.

use std::collections::HashMap;

use postgres::types::{ToSql, Type};

use super::copy::{BATCH, Cell, CopyError, Sink, quoted};
use super::pg_conn::PgConn;
use super::sql::DbError;

/// Why reading a table failed.
pub(super) enum ReadError {
    Db(DbError),
    Copy(CopyError),
}

impl From<postgres::Error> for ReadError {
    fn from(e: postgres::Error) -> Self {
        ReadError::Db(e.into())
    }
}

/// Why writing a batch failed.
pub(super) enum WriteError {
    Db(DbError),
    Value { column: String, why: String },
}

impl From<postgres::Error> for WriteError {
    fn from(e: postgres::Error) -> Self {
        WriteError::Db(e.into())
    }
}

const TIMESTAMPTZ: &str = "timestamp with time zone";

/// A table's columns in order, with their types as information_schema names them.
pub(super) fn columns(conn: &mut PgConn, table: &str) -> Result<Vec<(String, String)>, DbError> {
    let rows = conn.rows(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        &[&table],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Every row of `table`, a batch at a time, from a cursor (in the copy's snapshot). A
/// timestamp is read as the text runctl writes times in (UTC, six fractional digits).
pub(super) fn read_rows(conn: &mut PgConn, table: &str, f: Sink<'_>) -> Result<(), ReadError> {
    let select: Vec<String> = columns(conn, table)
        .map_err(ReadError::Db)?
        .iter()
        .map(|(name, ty)| match ty.as_str() {
            TIMESTAMPTZ => format!(
                "to_char(\"{name}\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
            ),
            _ => format!("\"{name}\""),
        })
        .collect();
    conn.client.batch_execute(&format!(
        "DECLARE runctl_copy NO SCROLL CURSOR FOR SELECT {} FROM {table}",
        select.join(", ")
    ))?;
    loop {
        let rows = conn
            .client
            .query(&format!("FETCH {BATCH} FROM runctl_copy"), &[])?;
        if rows.is_empty() {
            break;
        }
        let batch = rows.iter().map(cells).collect::<Result<Vec<_>, _>>()?;
        f(&batch).map_err(ReadError::Copy)?;
    }
    conn.client.batch_execute("CLOSE runctl_copy")?;
    Ok(())
}

fn cells(row: &postgres::Row) -> Result<Vec<Cell>, postgres::Error> {
    let mut out = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let cell = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Cell::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Cell::Int(v.into())),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)?
                .map(|v| Cell::Int(v.into())),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Cell::Real),
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Cell::Bytes),
            // Text, and any other type as the text it reads as.
            _ => row.try_get::<_, Option<String>>(i)?.map(Cell::Text),
        };
        out.push(cell.unwrap_or(Cell::Null));
    }
    Ok(out)
}

/// Insert a batch into `table` in one statement, one array per column; how many went in.
pub(super) fn write_rows(
    conn: &mut PgConn,
    table: &str,
    columns: &[String],
    batch: &[Vec<Cell>],
) -> Result<u64, WriteError> {
    let types: HashMap<String, String> = self::columns(conn, table)
        .map_err(WriteError::Db)?
        .into_iter()
        .collect();
    let mut arrays: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(columns.len());
    let (mut unnest, mut select, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for (i, name) in columns.iter().enumerate() {
        let Some(ty) = types.get(name) else {
            return Err(WriteError::Value {
                column: name.clone(),
                why: "the target has no such column".into(),
            });
        };
        let cells = batch.iter().map(|row| row.get(i).unwrap_or(&Cell::Null));
        let bad = |why: &str| WriteError::Value {
            column: name.clone(),
            why: why.to_string(),
        };
        let (array, cast): (Box<dyn ToSql + Sync>, &str) = match ty.as_str() {
            "bigint" => (Box::new(ints(cells).map_err(&bad)?), "bigint"),
            "bytea" => (Box::new(bytes(cells)), "bytea"),
            "text" | TIMESTAMPTZ => (Box::new(texts(cells).map_err(&bad)?), "text"),
            other => return Err(bad(&format!("its type {other} is not one runctl copies"))),
        };
        arrays.push(array);
        unnest.push(format!("${}::{cast}[]", i + 1));
        select.push(match ty.as_str() {
            TIMESTAMPTZ => format!("u.c{i}::timestamptz"),
            _ => format!("u.c{i}"),
        });
        names.push(format!("c{i}"));
    }
    let sql = format!(
        "INSERT INTO {table} ({}) SELECT {} FROM unnest({}) AS u ({})",
        quoted(columns),
        select.join(", "),
        unnest.join(", "),
        names.join(", ")
    );
    let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(|a| a.as_ref()).collect();
    Ok(conn.client.execute(&sql, &params)?)
}

fn ints<'a>(cells: impl Iterator<Item = &'a Cell>) -> Result<Vec<Option<i64>>, &'static str> {
    cells
        .map(|c| match c {
            Cell::Null => Ok(None),
            Cell::Int(i) => Ok(Some(*i)),
            Cell::Text(t) => t
                .parse()
                .map(Some)
                .map_err(|_| "a text that is not an integer"),
            _ => Err("a value that is not an integer"),
        })
        .collect()
}

fn texts<'a>(cells: impl Iterator<Item = &'a Cell>) -> Result<Vec<Option<String>>, &'static str> {
    cells
        .map(|c| match c {
            Cell::Null => Ok(None),
            Cell::Text(t) if t.contains('\0') => Err("a text with a NUL character"),
            Cell::Text(t) => Ok(Some(t.clone())),
            Cell::Int(i) => Ok(Some(i.to_string())),
            Cell::Real(r) => Ok(Some(r.to_string())),
            Cell::RawText(_) | Cell::Bytes(_) => Err("a text that is not UTF-8"),
        })
        .collect()
}

fn bytes<'a>(cells: impl Iterator<Item = &'a Cell>) -> Vec<Option<Vec<u8>>> {
    cells
        .map(|c| match c {
            Cell::Null => None,
            Cell::Bytes(b) | Cell::RawText(b) => Some(b.clone()),
            Cell::Text(t) => Some(t.as_bytes().to_vec()),
            Cell::Int(i) => Some(i.to_string().into_bytes()),
            Cell::Real(r) => Some(r.to_string().into_bytes()),
        })
        .collect()
}

/// The class of the advisory lock a copy into a database holds (`pg_advisory_xact_lock`).
const COPY_LOCK: i64 = 0x7275_6e63_636f_7079;

/// One copy into this database at a time, until the transaction ends.
pub(super) fn lock_target(conn: &mut PgConn) -> Result<(), DbError> {
    conn.exec("SELECT pg_advisory_xact_lock($1)", &[&COPY_LOCK])?;
    Ok(())
}

/// Move each identity column's sequence past the largest id copied, so that the next row
/// made on the target gets a new id.
pub(super) fn move_identities(conn: &mut PgConn) -> Result<(), DbError> {
    let identities = conn.rows(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
        &[],
    )?;
    for row in identities {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), \
             coalesce((SELECT max(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
        );
        conn.client.query(&sql, &[&table, &column])?;
    }
    Ok(())
}
