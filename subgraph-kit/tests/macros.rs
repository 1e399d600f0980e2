//! Misusing the macros is a compile error that points at the mistake.

#[test]
fn macro_misuse_is_a_compile_error_pointing_at_the_attribute() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
