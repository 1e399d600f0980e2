//! The test domain: books with authors, in a writable in-memory store.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use dictamesh::events::{ChangeType, SourceChange};
use dictamesh::{
    AdapterError, DataProductAdapter, EntityKey, EntityQuery, HealthStatus, ID, Reference, WritableAdapter,
    async_trait,
};
use futures::stream::BoxStream;
use tokio::sync::mpsc;

/// A book.
#[dictamesh::entity(
    key = "id",
    key = "isbn",
    lookup = "book",
    list = "books",
    domain = "library",
    source = "shelf"
)]
#[derive(Clone, Debug, PartialEq)]
pub struct Book {
    pub id: ID,
    pub isbn: String,
    pub title: String,
    pub genre: Genre,
    pub pages: Option<i32>,
    /// Who wrote it; resolved by the authors subgraph.
    pub author: Reference<Author>,
    #[dictamesh(pii, classification = "confidential")]
    pub borrower: Option<String>,
}

/// An author, owned by another subgraph.
#[dictamesh::entity(key(fields = "id", resolvable = false))]
#[derive(Clone, Debug, PartialEq)]
pub struct Author {
    pub id: ID,
}

/// Kinds of books.
#[dictamesh::enumeration]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Genre {
    Fiction,
    ScienceFiction,
    Reference,
}

/// What `createBook` takes.
#[dictamesh::input]
#[derive(Clone, Debug)]
pub struct NewBook {
    pub isbn: String,
    pub title: String,
    pub genre: Genre,
    pub author_id: ID,
}

/// What `updateBook` takes.
#[dictamesh::input]
#[derive(Clone, Debug)]
pub struct BookPatch {
    pub title: Option<String>,
    pub pages: Option<i32>,
}

pub fn book(id: &str, title: &str, genre: Genre) -> Book {
    Book {
        id: ID(id.into()),
        isbn: format!("isbn-{id}"),
        title: title.into(),
        genre,
        pages: Some(100),
        author: Reference::key("id", format!("author-{id}")),
        borrower: None,
    }
}

/// A shelf of books that counts the calls reaching it.
pub struct Shelf {
    books: Mutex<BTreeMap<String, Book>>,
    pub calls: AtomicUsize,
    healthy: bool,
    changes: Mutex<Option<mpsc::UnboundedReceiver<SourceChange>>>,
}

impl Shelf {
    pub fn new(books: impl IntoIterator<Item = Book>) -> Self {
        Shelf {
            books: Mutex::new(books.into_iter().map(|b| (b.id.to_string(), b)).collect()),
            calls: AtomicUsize::new(0),
            healthy: true,
            changes: Mutex::new(None),
        }
    }

    pub fn unhealthy(mut self) -> Self {
        self.healthy = false;
        self
    }

    /// A feed of source changes the adapter streams to the kit.
    pub fn with_changes(self) -> (Self, mpsc::UnboundedSender<SourceChange>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        *self.changes.lock().unwrap() = Some(receiver);
        (self, sender)
    }

    pub fn rename(&self, id: &str, title: &str) {
        if let Some(book) = self.books.lock().unwrap().get_mut(id) {
            book.title = title.into();
        }
    }

    fn find(&self, key: &EntityKey) -> Option<Book> {
        let books = self.books.lock().unwrap();
        if let Some(id) = key.get_str("id") {
            return books.get(id).cloned();
        }
        let isbn = key.get_str("isbn")?;
        books.values().find(|b| b.isbn == isbn).cloned()
    }
}

#[async_trait]
impl DataProductAdapter for Shelf {
    type Entity = Book;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<Book>>, AdapterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(keys.iter().map(|k| self.find(k)).collect())
    }

    async fn query_entities(&self, query: &EntityQuery) -> Result<Vec<Book>, AdapterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(query.apply(self.books.lock().unwrap().values().cloned()))
    }

    fn stream_changes(&self) -> BoxStream<'static, SourceChange> {
        match self.changes.lock().unwrap().take() {
            Some(receiver) => Box::pin(tokio_stream::wrappers::UnboundedReceiverStream::new(receiver)),
            None => Box::pin(futures::stream::empty()),
        }
    }

    async fn health(&self) -> HealthStatus {
        if self.healthy {
            HealthStatus::Healthy
        } else {
            HealthStatus::Unhealthy("shelf database unreachable".into())
        }
    }
}

#[async_trait]
impl WritableAdapter for Shelf {
    type Draft = NewBook;
    type Patch = BookPatch;

    async fn create(&self, draft: NewBook) -> Result<Book, AdapterError> {
        let mut books = self.books.lock().unwrap();
        let id = format!("b{}", books.len() + 1);
        let book = Book {
            id: ID(id.clone()),
            isbn: draft.isbn,
            title: draft.title,
            genre: draft.genre,
            pages: None,
            author: Reference::key("id", draft.author_id.to_string()),
            borrower: None,
        };
        books.insert(id, book.clone());
        Ok(book)
    }

    async fn update(&self, key: &EntityKey, patch: BookPatch) -> Result<Book, AdapterError> {
        let mut books = self.books.lock().unwrap();
        let id = key.id().unwrap_or_default();
        let book = books.get_mut(&id).ok_or_else(|| AdapterError::NotFound {
            entity_type: "Book".into(),
            key: key.to_string(),
        })?;
        if let Some(title) = patch.title {
            book.title = title;
        }
        if let Some(pages) = patch.pages {
            book.pages = Some(pages);
        }
        Ok(book.clone())
    }

    async fn delete(&self, key: &EntityKey) -> Result<(), AdapterError> {
        let id = key.id().unwrap_or_default();
        match self.books.lock().unwrap().remove(&id) {
            Some(_) => Ok(()),
            None => Err(AdapterError::NotFound {
                entity_type: "Book".into(),
                key: key.to_string(),
            }),
        }
    }
}

/// A source change of one book.
pub fn changed(id: &str) -> SourceChange {
    let mut change = SourceChange::new(ChangeType::Updated, "id", id);
    change.changed_fields = vec!["title".into()];
    change
}

/// Runs a query against a subgraph and returns the JSON response.
pub async fn run(subgraph: &dictamesh::Subgraph, query: &str) -> serde_json::Value {
    serde_json::to_value(subgraph.execute(query).await).unwrap()
}
