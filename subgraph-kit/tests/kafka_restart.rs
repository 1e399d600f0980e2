//! The broker goes down while 10,000 events are being published and comes back:
//! every event arrives, and after the consumer's de-duplication none counts
//! twice. Needs a durable tansu (`cargo install tansu --features libsql --root
//! /var/tmp/tansu`, SQLite storage in a file, or `DICTAMESH_TANSU_BIN`); skipped,
//! loudly, without it. Alone: `cargo nextest run -p dictamesh --features kafka
//! --test kafka_restart`.
#![cfg(feature = "kafka")]

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dictamesh::events::bus::{Consumer, EventHandler, EventSource, HandlerError, RecentIds};
use dictamesh::events::codec::{Decoder, Encoder};
use dictamesh::events::kafka::{KafkaConfig, KafkaPublisher, KafkaSource, ensure_topics};
use dictamesh::events::{ChangePublisher, ChangeType, EntityChangeEvent, EntityReference};

fn tansu() -> Option<String> {
    let path = std::env::var("DICTAMESH_TANSU_BIN").unwrap_or_else(|_| "/var/tmp/tansu/bin/tansu".into());
    std::path::Path::new(&path).exists().then_some(path)
}

struct Broker {
    binary: String,
    port: u16,
    storage: String,
    /// tansu reads the path of a sqlite:// URL relative to its working directory.
    data_dir: std::path::PathBuf,
    child: Option<Child>,
}

impl Broker {
    fn start(&mut self) {
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &listener,
                "--advertised-listener-url",
                &listener,
            ])
            .args(["--storage-engine", &self.storage])
            .current_dir(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("tansu did not listen on {}", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Default)]
struct Collect {
    ids: Mutex<HashSet<String>>,
}

#[dictamesh::async_trait]
impl EventHandler for Collect {
    async fn handle(&self, events: &[EntityChangeEvent]) -> Result<(), HandlerError> {
        let mut ids = self.ids.lock().unwrap();
        for event in events {
            assert!(
                ids.insert(event.event_id.clone()),
                "event {} handled twice",
                event.event_id
            );
        }
        Ok(())
    }
}

fn event(domain: &str, i: usize) -> EntityChangeEvent {
    EntityChangeEvent {
        event_id: format!("{domain}-{i}"),
        event_type: ChangeType::Created,
        timestamp: 0,
        source_system: "test".into(),
        domain: domain.into(),
        entity: EntityReference {
            entity_type: "Item".into(),
            id: format!("i{i}"),
            version: 1,
            url: String::new(),
            etag: None,
        },
        changed_fields: Vec::new(),
        relationships: Vec::new(),
        metadata: Default::default(),
        trace_context: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_lost_or_counted_twice_across_a_broker_restart() {
    let Some(binary) = tansu() else {
        eprintln!(
            "\n!!! SKIPPED: no durable tansu broker (cargo install tansu --features libsql --root /var/tmp/tansu, or set DICTAMESH_TANSU_BIN) !!!\n"
        );
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut broker = Broker {
        binary,
        port,
        storage: "sqlite://tansu.db".into(),
        data_dir: data.path().to_path_buf(),
        child: None,
    };
    broker.start();

    let mut config = KafkaConfig::new(format!("127.0.0.1:{port}"));
    config.partitions = 3;
    config.publish_timeout = Duration::from_secs(120);
    let domain = "restart";
    let topic = format!("{domain}.test.entity_changed");
    ensure_topics(&config, std::slice::from_ref(&topic))
        .await
        .unwrap();
    let publisher = Arc::new(KafkaPublisher::new(&config, Encoder::json()).unwrap());

    let total = 10_000;
    let mut pending = Vec::with_capacity(total);
    for i in 0..total {
        let publisher = publisher.clone();
        pending.push(tokio::spawn(
            async move { publisher.publish(&event(domain, i)).await },
        ));
        if i == total / 2 {
            broker.stop();
            tokio::time::sleep(Duration::from_secs(2)).await;
            broker.start();
        }
    }
    for task in pending {
        task.await
            .unwrap()
            .expect("every publish succeeds once the broker is back");
    }

    let handler = Arc::new(Collect::default());
    let source = KafkaSource::new(&config, "restart-check", &[topic.as_str()]).unwrap();
    let mut consumer = Consumer::new(
        source,
        handler.clone(),
        Arc::new(RecentIds::new(20_000)),
        publisher,
        Decoder::json(),
    )
    .batch_size(2000);
    let mut progress = Vec::new();
    let started = std::time::Instant::now();
    let mut reported = started;
    for _ in 0..600 {
        consumer.run_once(Duration::from_millis(500)).await.unwrap();
        let arrived = handler.ids.lock().unwrap().len();
        if arrived >= total {
            break;
        }
        if reported.elapsed() >= Duration::from_secs(10) {
            reported = std::time::Instant::now();
            // Which partitions the consumer owns and how far each got, on
            // stderr too so a run that is stopped still shows it. The stall
            // once seen inside the full suite stopped at 3,430 events: exactly
            // partition 2's share of these keys. On a loaded machine this
            // broker serves partition 2 first and the others late or not for
            // minutes, and its metadata and offset requests time out.
            let lag = consumer.source_mut().lag().await;
            let line = format!(
                "{} s: {arrived} arrived; lag per assigned partition {lag:?}",
                started.elapsed().as_secs()
            );
            eprintln!("{line}");
            progress.push(line);
        }
    }
    assert_eq!(
        handler.ids.lock().unwrap().len(),
        total,
        "all 10,000 events arrived; progress:\n{}",
        progress.join("\n")
    );
}
