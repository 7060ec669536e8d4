//! What a row is, whatever format it goes to: how answers strayed from the
//! documentation ([`drift`]).

pub mod drift;
