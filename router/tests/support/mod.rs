pub mod semantic_schema;
