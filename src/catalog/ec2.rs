//! (filled in below)

use super::Rule;

pub static RULES: &[&dyn Rule] = &[];
