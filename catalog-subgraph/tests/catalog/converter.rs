//! `schema_registry_converter`, the Rust Kafka Avro serializer for Confluent
//! Schema Registry, registers and fetches schemas through the catalog
//! unchanged, and its bytes are the Confluent wire format.

use apache_avro::types::Value;
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::schema_registry_common::{SchemaType, SubjectNameStrategy, SuppliedSchema};

use crate::support::{on_both, serve};

const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
    {"name":"id","type":"string"},{"name":"amount","type":"long"}]}"#;

#[tokio::test]
async fn the_confluent_serializer_registers_encodes_and_decodes_through_the_catalog() {
    on_both(|backend, t| async move {
        let catalog = t.catalog().await;
        let base = serve(&catalog).await;
        let encoder = AvroEncoder::new(SrSettings::new(base.clone()));
        let schema = SuppliedSchema::new(Some("shop.Order".into()), SchemaType::Avro, ORDER.into());
        let fields = vec![("id", Value::String("o-1".into())), ("amount", Value::Long(1999))];
        let bytes = encoder
            .encode(
                fields.clone(),
                SubjectNameStrategy::TopicNameStrategyWithSchema("orders".into(), false, schema),
            )
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: {e:?}"));
        // Magic byte 0, then the 32-bit schema id the catalog assigned.
        assert_eq!(bytes[0], 0);
        let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        let registered = dictamesh_catalog::schema_registry::SchemaRegistry::new(t.db.clone())
            .version(
                "orders-value",
                dictamesh_catalog::schema_registry::VersionSpec::Latest,
            )
            .await
            .unwrap();
        assert_eq!(id, u32::try_from(registered.schema_id).unwrap());
        // A fresh encoder finds the latest schema by subject alone.
        let by_subject = AvroEncoder::new(SrSettings::new(base.clone()))
            .encode(
                fields,
                SubjectNameStrategy::TopicNameStrategy("orders".into(), false),
            )
            .await
            .unwrap();
        assert_eq!(by_subject, bytes);
        let decoded = AvroDecoder::new(SrSettings::new(base))
            .decode(Some(&bytes))
            .await
            .unwrap();
        assert_eq!(
            decoded.value,
            Value::Record(vec![
                ("id".into(), Value::String("o-1".into())),
                ("amount".into(), Value::Long(1999))
            ])
        );
    })
    .await;
}
