//! The client role.

use crate::case::{Case, Dialect};

pub fn cases(_dialect: Dialect) -> &'static [Case] {
    &[]
}
