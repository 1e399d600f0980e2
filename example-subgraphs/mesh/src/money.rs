//! Money: an exact decimal amount and a currency, never a float.

use rust_decimal::Decimal;

/// An amount of money.
#[dictamesh::object(shareable)]
#[derive(Clone, Debug, PartialEq)]
pub struct Money {
    /// The amount, exact (`"19.99"`).
    pub amount: Decimal,
    /// ISO 4217 currency code (`"USD"`).
    pub currency: String,
}

impl Money {
    /// An amount in a currency.
    pub fn new(amount: Decimal, currency: impl Into<String>) -> Self {
        Money {
            amount,
            currency: currency.into(),
        }
    }

    /// This amount times a quantity.
    pub fn times(&self, quantity: i32) -> Money {
        Money::new(self.amount * Decimal::from(quantity), self.currency.clone())
    }
}
