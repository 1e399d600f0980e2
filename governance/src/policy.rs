//! `@policy` evaluation, in-process. With the `rego` feature, policies are Rego files
//! (evaluated by regorus): the policy name `crm.read_pii` is the rule
//! `data.crm.read_pii`, met when it evaluates to `true`. Its input is
//!
//! ```json
//! { "authenticated": true, "claims": { "sub": "ada", "scope": "..." },
//!   "scopes": ["read:users"], "type": "Customer", "field": "email", "returnType": "String" }
//! ```
//!
//! (`type` is the field's parent type; for a type condition `... on T`, `type` is `T`
//! and `field` and `returnType` are `null`). A policy that is undefined, fails or
//! yields anything but `true` is not met; so is every policy when no policy files are
//! configured.

use std::path::PathBuf;

use serde::Deserialize;

use crate::Caller;

/// `authorization.policies`: the policy files.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Rego files, loaded at start (a file that does not parse stops the start).
    #[serde(default)]
    pub files: Vec<PathBuf>,
}

/// Why the policies cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file cannot be read.
    #[error("cannot read the policy file {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// A file does not parse; the message names the file, line and column.
    #[error("invalid policy file {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The parser's message (with `file:line:column`).
        message: String,
    },
    /// Policy files are configured, but the router was built without a policy engine.
    #[error(
        "authorization.policies.files is set, but this build has no policy engine (build with the `policy` feature)"
    )]
    NoEngine,
}

/// What a policy is asked about: who, and which type (and field).
pub struct PolicyInput<'a> {
    /// The caller.
    pub caller: &'a Caller,
    /// The type selected (the field's parent, or the type condition).
    pub type_name: &'a str,
    /// The field, or `None` for a type condition.
    pub field: Option<&'a str>,
    /// The named type the field returns, or `None` for a type condition.
    pub return_type: Option<&'a str>,
}

impl PolicyInput<'_> {
    /// The input document a policy sees.
    pub fn to_json(&self) -> serde_json::Value {
        let mut scopes: Vec<&String> = self.caller.scopes().iter().collect();
        scopes.sort();
        serde_json::json!({
            "authenticated": self.caller.is_authenticated(),
            "claims": self.caller.claims(),
            "scopes": scopes,
            "type": self.type_name,
            "field": self.field,
            "returnType": self.return_type,
        })
    }
}

/// The loaded policies.
#[derive(Default)]
pub struct PolicyEngine {
    #[cfg(feature = "rego")]
    engine: Option<std::sync::Mutex<regorus::Engine>>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("loaded", &self.is_loaded())
            .finish()
    }
}

impl PolicyEngine {
    /// Loads the configured policy files.
    pub fn load(config: &PolicyConfig) -> Result<PolicyEngine, PolicyError> {
        if config.files.is_empty() {
            return Ok(PolicyEngine::default());
        }
        Self::load_files(&config.files)
    }

    #[cfg(feature = "rego")]
    fn load_files(files: &[PathBuf]) -> Result<PolicyEngine, PolicyError> {
        let mut engine = regorus::Engine::new();
        for file in files {
            let path = file.display().to_string();
            let text = std::fs::read_to_string(file).map_err(|e| PolicyError::Read {
                path: path.clone(),
                message: e.to_string(),
            })?;
            engine
                .add_policy(path.clone(), text)
                .map_err(|e| PolicyError::Invalid {
                    path,
                    message: e.to_string(),
                })?;
        }
        Ok(PolicyEngine {
            engine: Some(std::sync::Mutex::new(engine)),
        })
    }

    #[cfg(not(feature = "rego"))]
    fn load_files(_files: &[PathBuf]) -> Result<PolicyEngine, PolicyError> {
        Err(PolicyError::NoEngine)
    }

    /// Whether policy files are loaded.
    pub fn is_loaded(&self) -> bool {
        #[cfg(feature = "rego")]
        {
            self.engine.is_some()
        }
        #[cfg(not(feature = "rego"))]
        {
            false
        }
    }

    /// Whether the policy named `policy` is met for `input`.
    pub fn evaluate(&self, policy: &str, input: &PolicyInput<'_>) -> bool {
        #[cfg(feature = "rego")]
        if let Some(engine) = &self.engine {
            let mut engine = match engine.lock() {
                Ok(engine) => engine,
                Err(poisoned) => poisoned.into_inner(),
            };
            engine.set_input(regorus::Value::from(input.to_json()));
            return match engine.eval_rule(format!("data.{policy}")) {
                Ok(value) => value == regorus::Value::from(true),
                Err(error) => {
                    tracing::warn!(policy, %error, "policy evaluation failed; the policy is not met");
                    false
                }
            };
        }
        tracing::debug!(
            policy,
            type_name = input.type_name,
            "no policy engine: the policy is not met"
        );
        false
    }
}

#[cfg(all(test, feature = "rego"))]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dictamesh-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write policy");
        path
    }

    #[test]
    fn a_rule_that_evaluates_to_true_is_met() {
        let file = write(
            "crm.rego",
            "package crm\n\nread_pii if {\n  input.type == \"Customer\"\n  \"pii:read\" in input.scopes\n}\n",
        );
        let engine = PolicyEngine::load(&PolicyConfig { files: vec![file] }).expect("policy loads");
        let claims = serde_json::json!({ "scope": "pii:read" });
        let reader = Caller::authenticated(claims.as_object().cloned().unwrap_or_default());
        let anonymous = Caller::anonymous();
        let met = |policy: &str, caller: &Caller, type_name: &str| {
            engine.evaluate(
                policy,
                &PolicyInput {
                    caller,
                    type_name,
                    field: Some("email"),
                    return_type: Some("String"),
                },
            )
        };
        assert!(met("crm.read_pii", &reader, "Customer"));
        assert!(!met("crm.read_pii", &reader, "Invoice"));
        assert!(!met("crm.read_pii", &anonymous, "Customer"));
        assert!(!met("crm.undefined_rule", &reader, "Customer"));
    }

    #[test]
    fn a_file_that_does_not_parse_is_reported_with_its_line() {
        let file = write("broken.rego", "package broken\n\nallow if {\n  input.x ==\n");
        let error = PolicyEngine::load(&PolicyConfig { files: vec![file] }).expect_err("does not parse");
        let text = error.to_string();
        assert!(text.contains("broken.rego:5:"), "{text}");
    }
}
