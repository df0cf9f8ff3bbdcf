//! Compile-time tests of the `#[healthcheck]` attribute: every misuse the macro rejects must fail
//! with a clear error that points at the offending tokens (`tests/ui/fail`, checked against the
//! `.stderr` snapshots beside each case), and every accepted form must compile cleanly, hygiene
//! included (`tests/ui/pass`).
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test -p healthcheck-macros --test ui`, then read them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
