//! End-to-end tests of the whole gnat stack live in `tests/tests/`; this library is empty.
