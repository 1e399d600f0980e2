//! Reading columns the same way from PostgreSQL and SQLite rows.

use sqlx::{ColumnIndex, Decode, Row, Type};

/// A row whose columns decode into `T` on its backend.
pub(crate) trait Columns<T> {
    /// The value of column `name`.
    fn column(&self, name: &str) -> Result<T, sqlx::Error>;
}

impl<R, T> Columns<T> for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> T: Decode<'r, R::Database> + Type<R::Database>,
{
    fn column(&self, name: &str) -> Result<T, sqlx::Error> {
        self.try_get(name)
    }
}
