//! Parsed and validated documents by query text, so a repeated query skips parsing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::RwLock;

use super::ParsedDocument;

/// A bounded cache of parsed documents; when full it starts over.
pub struct DocumentCache {
    capacity: usize,
    /// Keyed with a fast seeded hash: a key is a whole query text, looked up on
    /// every request.
    documents: RwLock<HashMap<Arc<str>, Arc<ParsedDocument>, foldhash::fast::RandomState>>,
}

impl DocumentCache {
    /// A cache keeping at most `capacity` documents.
    pub fn new(capacity: usize) -> Self {
        DocumentCache {
            capacity,
            documents: RwLock::new(HashMap::default()),
        }
    }

    /// The cached document for a query text.
    pub fn get(&self, query: &str) -> Option<Arc<ParsedDocument>> {
        self.documents.read().ok()?.get(query).cloned()
    }

    /// Remembers a document.
    pub fn insert(&self, query: Arc<str>, document: Arc<ParsedDocument>) {
        if self.capacity == 0 {
            return;
        }
        if let Ok(mut documents) = self.documents.write() {
            if documents.len() >= self.capacity {
                documents.clear();
            }
            documents.insert(query, document);
        }
    }
}
