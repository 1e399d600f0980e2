//! Who is asking: the identity the router established for one request.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Map;
use serde_json::Value;

/// The caller of one request: anonymous, or authenticated with a token's claims.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caller {
    claims: Option<Arc<Map<String, Value>>>,
    scopes: HashSet<String>,
}

impl Caller {
    /// A caller without credentials.
    pub fn anonymous() -> Self {
        Caller::default()
    }

    /// An authenticated caller with the verified claims of its token; the OAuth2
    /// `scope` claim (space-separated, or a list) gives its scopes.
    pub fn authenticated(claims: Map<String, Value>) -> Self {
        let scopes = match claims.get("scope") {
            Some(Value::String(text)) => text.split_whitespace().map(str::to_string).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => HashSet::new(),
        };
        Caller {
            claims: Some(Arc::new(claims)),
            scopes,
        }
    }

    /// Whether the request carried a valid token.
    pub fn is_authenticated(&self) -> bool {
        self.claims.is_some()
    }

    /// The verified claims (none for an anonymous caller).
    pub fn claims(&self) -> Option<&Map<String, Value>> {
        self.claims.as_deref()
    }

    /// The caller's OAuth2 scopes.
    pub fn scopes(&self) -> &HashSet<String> {
        &self.scopes
    }

    /// The `sub` claim, when there is one.
    pub fn subject(&self) -> Option<&str> {
        self.claims()?.get("sub")?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_come_from_the_space_separated_scope_claim() {
        let claims = serde_json::json!({ "sub": "ada", "scope": "read:users  write:users" });
        let caller = Caller::authenticated(claims.as_object().cloned().unwrap_or_default());
        assert!(caller.is_authenticated());
        assert_eq!(caller.subject(), Some("ada"));
        assert!(caller.scopes().contains("read:users"));
        assert!(caller.scopes().contains("write:users"));
        assert_eq!(caller.scopes().len(), 2);
        assert!(!Caller::anonymous().is_authenticated());
    }
}
