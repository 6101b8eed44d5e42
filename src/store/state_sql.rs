//! The typed states of [`crate::state`] at the store's edge: each is stored as its one
//! spelling, and a text the DB holds that names no state is an error of the row it is in
//! (never a silent default), unless the column is read as [`Stored`], which keeps the text.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::state::{ErrorCategory, ResultStatus, RunStatus, State, Stored, VersionStatus};

macro_rules! sql_state {
    ($($name:ident),+) => {$(
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                $name::parse(text).ok_or_else(|| {
                    FromSqlError::Other(
                        format!("unknown {} {text:?}", stringify!($name)).into(),
                    )
                })
            }
        }
    )+};
}

sql_state!(RunStatus, ResultStatus, ErrorCategory, VersionStatus);

impl<T: State> ToSql for Stored<T> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl<T: State> FromSql for Stored<T> {
    /// Whatever the column holds becomes text (bytes that are not UTF-8 with U+FFFD), so that
    /// one odd row, however it was written, never hides the others.
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Ok(match value {
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                Stored::parse(&String::from_utf8_lossy(bytes))
            }
            ValueRef::Integer(n) => Stored::parse(&n.to_string()),
            ValueRef::Real(x) => Stored::parse(&x.to_string()),
            ValueRef::Null => return Err(FromSqlError::InvalidType),
        })
    }
}
