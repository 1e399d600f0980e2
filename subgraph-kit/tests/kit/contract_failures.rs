//! The contract suite catches adapters that break the contract.

use dictamesh::testing::{CheckOutcome, ContractSuite};
use dictamesh::{AdapterError, DataProductAdapter, EntityKey, async_trait};

use crate::books::{Book, Genre, book};

/// Returns one result whatever the number of keys, and never reports NotFound.
struct Misaligned;

#[async_trait]
impl DataProductAdapter for Misaligned {
    type Entity = Book;

    async fn get_entities(&self, _keys: &[EntityKey]) -> Result<Vec<Option<Book>>, AdapterError> {
        Ok(vec![Some(book("1", "Dune", Genre::Fiction))])
    }
}

#[tokio::test]
async fn a_misaligned_adapter_fails_batch_alignment_and_not_found() {
    let report = ContractSuite::new(
        Misaligned,
        EntityKey::single("Book", "id", "1"),
        EntityKey::single("Book", "id", "2"),
    )
    .run()
    .await;
    assert!(!report.passed());
    assert!(matches!(
        report.outcome("batch_alignment"),
        Some(CheckOutcome::Failed(_))
    ));
    assert!(matches!(
        report.outcome("not_found"),
        Some(CheckOutcome::Failed(_))
    ));
    assert_eq!(report.outcome("existing_entity"), Some(&CheckOutcome::Passed));
}
