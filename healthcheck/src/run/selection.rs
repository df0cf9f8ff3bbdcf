//! Which checks a run covers.

use crate::check::Probe;

/// Which checks to run.
///
/// # Example
/// ```
/// use healthcheck::{Probe, Selection};
///
/// let front = Selection::group("front");
/// let db = Selection::check("database");
/// let live = Selection::Probe(Probe::Liveness);
/// # let _ = (front, db, live, Selection::All);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Selection {
    /// Every check.
    #[default]
    All,
    /// The checks in any of these groups. Naming a group that no check is in is an error.
    Groups(Vec<String>),
    /// These checks, by name. Naming a check that does not exist is an error.
    Checks(Vec<String>),
    /// The checks that take part in this Kubernetes probe.
    Probe(Probe),
}

impl Selection {
    /// The checks of one group.
    #[must_use]
    pub fn group(name: impl Into<String>) -> Self {
        Selection::Groups(vec![name.into()])
    }

    /// One check, by name.
    #[must_use]
    pub fn check(name: impl Into<String>) -> Self {
        Selection::Checks(vec![name.into()])
    }

    /// The scope as a short text, as the `scope` tag of the run metrics shows it: `all`, the
    /// group names (joined with `+`), the check's name (or `checks` for several), or the probe.
    #[must_use]
    pub fn scope(&self) -> String {
        match self {
            Selection::All => "all".to_owned(),
            Selection::Groups(names) => names.join("+"),
            Selection::Checks(names) if names.len() == 1 => names[0].clone(),
            Selection::Checks(_) => "checks".to_owned(),
            Selection::Probe(probe) => probe.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cases = [
            (Selection::All, "all"),
            (Selection::Groups(names(&["front", "back"])), "front+back"),
            (Selection::check("db"), "db"),
            (Selection::Checks(names(&["db", "cache"])), "checks"),
            (Selection::Probe(Probe::Liveness), "liveness"),
        ];
        for (selection, scope) in cases {
            assert_eq!(selection.scope(), scope, "{selection:?}");
        }
    }
}
