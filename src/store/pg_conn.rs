//! A PostgreSQL connection as the store uses it: its prepared statements kept, and the values
//! of the shared statements (store/sql.rs) as the client sends and reads them.

use bytes::BytesMut;
use postgres::Client;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::sql::{DbError, Value};

/// A hash given with one identifier that holds another: (hash, identifier there, given).
pub(super) type Clash = (String, String, String);

/// How many prepared statements a connection keeps before it forgets them all.
const STATEMENTS_KEPT: usize = 256;

/// A connection with the statements it has prepared, each prepared once per connection (as
/// rusqlite's cache does on SQLite): a statement run again costs no parse and no round trip
/// to prepare it.
///
/// A statement outside a transaction whose connection the server dropped (a restart, a
/// terminated backend) is sent again over a new connection, for up to 10 seconds; inside a
/// transaction the error stands (the transaction is gone with the connection).
pub(super) struct PgConn {
    pub(super) client: Client,
    statements: std::collections::HashMap<String, postgres::Statement>,
    /// How to connect again.
    config: Option<postgres::Config>,
    in_txn: bool,
}

/// How long a dropped connection is tried again.
pub(super) const RECONNECT_FOR: std::time::Duration = std::time::Duration::from_secs(10);

impl PgConn {
    pub(super) fn new(client: Client, config: Option<postgres::Config>) -> PgConn {
        PgConn {
            client,
            statements: std::collections::HashMap::new(),
            config,
            in_txn: false,
        }
    }

    /// `BEGIN` (over a new connection if the server dropped this one).
    pub(super) fn begin(&mut self) -> Result<(), postgres::Error> {
        self.again(|c| c.client.batch_execute("BEGIN"))?;
        self.in_txn = true;
        Ok(())
    }

    pub(super) fn commit(&mut self) -> Result<(), postgres::Error> {
        self.in_txn = false;
        self.client.batch_execute("COMMIT")
    }

    pub(super) fn rollback(&mut self) {
        self.in_txn = false;
        let _ = self.client.batch_execute("ROLLBACK");
    }

    /// `f`, and again over a new connection while the server dropped this one (outside a
    /// transaction only).
    fn again<T>(
        &mut self,
        f: impl FnMut(&mut PgConn) -> Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        self.again_undoing(f, |_| Ok(0))
    }

    /// [`PgConn::again`], running `undo` over each new connection before `f` is sent again:
    /// for a statement that changes rows and whose answer may be lost after its commit (the
    /// rows it changed would be left as if it had not run).
    fn again_undoing<T>(
        &mut self,
        mut f: impl FnMut(&mut PgConn) -> Result<T, postgres::Error>,
        mut undo: impl FnMut(&mut PgConn) -> Result<u64, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        let start = std::time::Instant::now();
        let mut undone = true;
        loop {
            let tried = match undone {
                true => f(self),
                false => undo(self).and_then(|_| {
                    undone = true;
                    f(self)
                }),
            };
            let e = match tried {
                Err(e) if !self.in_txn && gone(&e) && start.elapsed() < RECONNECT_FOR => e,
                done => return done,
            };
            undone = false;
            std::thread::sleep(std::time::Duration::from_millis(250));
            match self.config.clone().map(super::pg::connect) {
                Some(Ok(client)) => {
                    self.client = client;
                    self.statements.clear();
                }
                Some(Err(_)) => {}
                None => return Err(e),
            }
        }
    }

    /// Forget the prepared statements (after a migration, whose tables they may name).
    pub(super) fn forget_statements(&mut self) {
        self.statements.clear();
    }

    fn prepared(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        if self.statements.len() >= STATEMENTS_KEPT {
            self.statements.clear();
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// Register (hash, identifier) pairs, in the order given, in two statements whatever their
    /// number: one insert of them all from arrays (a hash already there keeps its identifier),
    /// then the first pair whose hash holds another identifier. How many were new, and that
    /// pair as (hash, identifier there, identifier given).
    pub(super) fn insert_hash_pairs(
        &mut self,
        algo: &str,
        origin: &str,
        created: &str,
        pairs: &[&(String, String)],
    ) -> Result<(usize, Option<Clash>), DbError> {
        let hashes: Vec<&str> = pairs.iter().map(|(h, _)| h.as_str()).collect();
        let identifiers: Vec<&str> = pairs.iter().map(|(_, i)| i.as_str()).collect();
        let added = self.client.execute(
            "INSERT INTO hashes (algo, hash, identifier, origin, created_at) \
             SELECT $1, t.h, t.i, $2, $3 \
             FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS t (h, i, n) ORDER BY t.n \
             ON CONFLICT (algo, hash) DO NOTHING",
            &[&algo, &origin, &created, &hashes, &identifiers],
        )?;
        let clash = self.client.query_opt(
            "SELECT t.h, x.identifier, t.i \
             FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t (h, i, n) \
             JOIN hashes x ON x.algo = $1 AND x.hash = t.h COLLATE \"C\" \
             WHERE x.identifier <> t.i COLLATE \"C\" ORDER BY t.n LIMIT 1",
            &[&algo, &hashes, &identifiers],
        )?;
        Ok((
            usize::try_from(added).unwrap_or(usize::MAX),
            clash.map(|r| (r.get(0), r.get(1), r.get(2))),
        ))
    }

    /// Insert a source's items from arrays in one statement; a key already there is not
    /// written again. The first item in the order given whose key another item holds (one
    /// before it here, or one of an earlier batch), with that item's location.
    pub(super) fn insert_items(
        &mut self,
        source_id: i64,
        items: &[crate::source::Item],
    ) -> Result<Option<(usize, String)>, DbError> {
        let keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
        let locations: Vec<&str> = items.iter().map(|i| i.location.as_str()).collect();
        let data: Vec<String> = items
            .iter()
            .map(|i| serde_json::to_string(&i.data).unwrap_or_else(|_| "{}".into()))
            .collect();
        let added = self.exec(
            "INSERT INTO items (source_id, key, location, data) \
             SELECT $1, t.k, t.l, t.d \
             FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t (k, l, d, n) \
             ORDER BY t.n ON CONFLICT DO NOTHING",
            &[&source_id, &keys, &locations, &data],
        )?;
        if usize::try_from(added).unwrap_or(usize::MAX) == items.len() {
            return Ok(None);
        }
        // The item held under a repeated key is another one: its location or data differ.
        let row = self.rows(
            "SELECT t.n, i.location \
             FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t (k, l, d, n) \
             JOIN items i ON i.source_id = $1 AND i.key = t.k COLLATE \"C\" \
             WHERE i.location <> t.l COLLATE \"C\" OR i.data <> t.d COLLATE \"C\" \
             ORDER BY t.n LIMIT 1",
            &[&source_id, &keys, &locations, &data],
        )?;
        if let Some(row) = row.first() {
            let at: i64 = row.get(0);
            return Ok(Some((usize::try_from(at - 1).unwrap_or(0), row.get(1))));
        }
        // The same item twice in this batch.
        let mut seen = std::collections::HashMap::new();
        for (at, item) in items.iter().enumerate() {
            if let Some(first) = seen.insert(item.key.as_str(), at) {
                return Ok(Some((at, items[first].location.clone())));
            }
        }
        Ok(Some((0, String::new())))
    }

    /// Run a statement of the PostgreSQL-only code with any parameters (arrays too), prepared
    /// once per connection.
    pub(super) fn exec(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        self.again(|c| {
            let statement = c.prepared(sql)?;
            c.client.execute(&statement, params)
        })
    }

    /// The rows of a query of the PostgreSQL-only code, prepared once per connection.
    pub(super) fn rows(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        self.again(|c| {
            let statement = c.prepared(sql)?;
            c.client.query(&statement, params)
        })
    }

    /// [`PgConn::rows`] for a statement whose effect `undo` takes back: after a dropped
    /// connection, `undo` runs over the new one before the statement is sent again.
    pub(super) fn rows_undoing(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        undo: (&str, &[&(dyn ToSql + Sync)]),
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        self.again_undoing(
            |c| {
                let statement = c.prepared(sql)?;
                c.client.query(&statement, params)
            },
            |c| {
                let statement = c.prepared(undo.0)?;
                c.client.execute(&statement, undo.1)
            },
        )
    }

    /// Run a statement; the rows it changed.
    pub(super) fn execute(&mut self, sql: &str, values: &[Value<'_>]) -> Result<u64, DbError> {
        Ok(self.exec(sql, &params(values))?)
    }

    /// Every row of a query.
    pub(super) fn query(
        &mut self,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<Vec<postgres::Row>, DbError> {
        Ok(self.rows(sql, &params(values))?)
    }
}

/// Whether the server dropped the connection (or is shutting down, or starting up).
pub(super) fn gone(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.is_closed()
        || e.code().is_some_and(|c| {
            [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::CONNECTION_EXCEPTION,
                SqlState::CONNECTION_FAILURE,
                SqlState::CONNECTION_DOES_NOT_EXIST,
            ]
            .contains(c)
        })
}

// Values of the shared statements (store/sql.rs) as the PostgreSQL client sends and reads them.

type BoxError = Box<dyn std::error::Error + Sync + Send>;

fn params<'a>(values: &'a [Value<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// An integer column of any width (or a boolean), NULL as `None`.
pub(super) fn int(row: &postgres::Row, i: usize) -> Result<Option<i64>, DbError> {
    let ty = row.columns().get(i).map(|c| c.type_().clone());
    Ok(match ty {
        Some(Type::INT2) => row.try_get::<_, Option<i16>>(i)?.map(i64::from),
        Some(Type::INT4) => row.try_get::<_, Option<i32>>(i)?.map(i64::from),
        Some(Type::BOOL) => row.try_get::<_, Option<bool>>(i)?.map(i64::from),
        _ => row.try_get::<_, Option<i64>>(i)?,
    })
}

impl ToSql for Value<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match *self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT8 => v.to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Value::Text(s) if <&str as ToSql>::accepts(ty) => s.to_sql(ty, out),
            Value::Blob(b) if <&[u8] as ToSql>::accepts(ty) => b.to_sql(ty, out),
            Value::Text(_) | Value::Blob(_) => {
                Err(format!("a text or bytes value cannot be sent as {ty}").into())
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked value by value in to_sql: NULL goes as any type.
        true
    }

    to_sql_checked!();
}
