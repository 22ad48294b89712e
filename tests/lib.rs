//! End-to-end tests of the whole gnat stack live in `tests/tests/`; this library is empty.

/// The repository README's code examples, compiled (and type-checked) as doctests against
/// the facade `gnat` (a dev-dependency here, with the features the README uses).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
