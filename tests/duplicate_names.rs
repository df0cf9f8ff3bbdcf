//! Two checks with one name are a build error that names both places (python-panopticon kept
//! the first one silently).

use healthcheck::{Check, Error, HealthChecks, healthcheck};

mod primary {
    use super::*;

    #[healthcheck(name = "database")]
    fn primary_database() -> bool {
        true
    }
}

mod replica {
    use super::*;

    #[healthcheck(name = "database")]
    async fn replica_database() -> bool {
        true
    }
}

#[test]
fn two_registered_checks_with_one_name_are_an_error_naming_both() {
    let error = HealthChecks::builder()
        .build()
        .expect_err("duplicate names");
    let Error::DuplicateName {
        name,
        first,
        second,
    } = &error
    else {
        panic!("expected DuplicateName, got {error:?}");
    };
    assert_eq!(name, "database");
    assert!(first.file().ends_with("duplicate_names.rs"), "{first}");
    assert!(second.file().ends_with("duplicate_names.rs"), "{second}");
    let mut lines = [first.line(), second.line()];
    lines.sort();
    // The lines of `fn primary_database` and `fn replica_database`.
    assert_eq!(lines, [10, 19], "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&first.to_string()) && message.contains(&second.to_string()),
        "{message}"
    );
}

#[test]
fn a_runtime_check_cannot_take_a_registered_name() {
    let (check, line) = (Check::new("database", || async { true }), line!());
    let error = HealthChecks::builder()
        .filter_registered(|check| check.location().line() == 10)
        .check(check)
        .build()
        .expect_err("duplicate names");
    let Error::DuplicateName { first, second, .. } = &error else {
        panic!("expected DuplicateName, got {error:?}");
    };
    let lines = [first.line(), second.line()];
    assert!(lines.contains(&10) && lines.contains(&line), "{error}");
}
