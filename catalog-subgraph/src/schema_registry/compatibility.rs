//! Compatibility levels and what each one checks, as Confluent Schema
//! Registry defines them.

use std::fmt;

use super::error::RegistryError;

/// A compatibility level of a subject (or the registry's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompatibilityLevel {
    /// The new schema reads data written with the latest version.
    #[default]
    Backward,
    /// The new schema reads data written with every earlier version.
    BackwardTransitive,
    /// The latest version reads data written with the new schema.
    Forward,
    /// Every earlier version reads data written with the new schema.
    ForwardTransitive,
    /// Backward and forward against the latest version.
    Full,
    /// Backward and forward against every earlier version.
    FullTransitive,
    /// No check.
    None,
}

/// Which ways a new schema must be compatible with a previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directions {
    /// The new schema must read the previous one's data.
    pub backward: bool,
    /// The previous schema must read the new one's data.
    pub forward: bool,
}

impl CompatibilityLevel {
    /// Every level, in Confluent's order.
    pub const ALL: [CompatibilityLevel; 7] = [
        CompatibilityLevel::Backward,
        CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::Forward,
        CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::Full,
        CompatibilityLevel::FullTransitive,
        CompatibilityLevel::None,
    ];

    /// The level's name (`BACKWARD`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
            CompatibilityLevel::None => "NONE",
        }
    }

    /// Parses a level name, case-insensitively.
    pub fn parse(name: &str) -> Result<Self, RegistryError> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| RegistryError::InvalidCompatibilityLevel(name.to_string()))
    }

    /// The directions to check against each previous version.
    pub fn directions(self) -> Directions {
        use CompatibilityLevel::*;
        Directions {
            backward: matches!(self, Backward | BackwardTransitive | Full | FullTransitive),
            forward: matches!(self, Forward | ForwardTransitive | Full | FullTransitive),
        }
    }

    /// Whether every earlier version is checked, not only the latest.
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_say_what_they_check() {
        for level in CompatibilityLevel::ALL {
            assert_eq!(
                CompatibilityLevel::parse(&level.as_str().to_lowercase()).unwrap(),
                level
            );
        }
        assert_eq!(
            CompatibilityLevel::parse("sideways").unwrap_err().error_code(),
            42203
        );
        let full = CompatibilityLevel::FullTransitive;
        assert!(full.directions().backward && full.directions().forward && full.is_transitive());
        let none = CompatibilityLevel::None.directions();
        assert!(!none.backward && !none.forward);
    }
}
