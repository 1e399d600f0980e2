//! `SupergraphWatcher`: a changed schema file or subgraph SDL yields a new supergraph; a
//! broken change keeps the previous one.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use dictamesh_router::compose::SupergraphWatcher;
use dictamesh_router::compose::WatchOptions;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;

const LINK: &str =
    r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])"#;

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dictamesh-watch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn fast() -> WatchOptions {
    WatchOptions {
        poll_interval: Duration::from_millis(50),
    }
}

#[tokio::test]
async fn file_change_recomposes_and_broken_change_keeps_previous() {
    let dir = scratch_dir("file");
    let schema = dir.join("users.graphql");
    std::fs::write(&schema, format!("{LINK}\ntype Query {{ me: String }}")).expect("write");
    std::fs::write(
        dir.join("supergraph.yaml"),
        "subgraphs:\n  users:\n    routing_url: http://users\n    schema:\n      file: users.graphql\n",
    )
    .expect("write config");
    let watcher = SupergraphWatcher::start(dir.join("supergraph.yaml"), fast())
        .await
        .expect("initial composition");
    let mut updates = watcher.subscribe();
    assert!(watcher.current().sdl.contains("me: String"));

    std::fs::write(
        &schema,
        format!("{LINK}\ntype Query {{ me: String version: Int }}"),
    )
    .expect("write");
    tokio::time::timeout(Duration::from_secs(5), updates.changed())
        .await
        .expect("a new supergraph within 5s")
        .expect("watcher alive");
    assert!(watcher.current().sdl.contains("version: Int"));

    std::fs::write(&schema, format!("{LINK}\ntype Query {{ me: Strin }}")).expect("write");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!updates.has_changed().expect("watcher alive"));
    assert!(watcher.current().sdl.contains("version: Int"));
}

/// A one-route HTTP server answering `_service { sdl }` with the current SDL.
async fn serve_sdl(sdl: Arc<Mutex<String>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let sdl = sdl.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 16 * 1024];
                let mut read = 0;
                loop {
                    match socket.read(&mut buffer[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                    let request = String::from_utf8_lossy(&buffer[..read]);
                    if let Some(head_end) = request.find("\r\n\r\n") {
                        let length = request[..head_end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if read >= head_end + 4 + length {
                            break;
                        }
                    }
                }
                let current = sdl.lock().map(|s| s.clone()).unwrap_or_default();
                let body = serde_json::json!({ "data": { "_service": { "sdl": current } } }).to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/graphql")
}

#[tokio::test]
async fn subgraph_url_answering_a_new_sdl_recomposes() {
    let sdl = Arc::new(Mutex::new(format!("{LINK}\ntype Query {{ a: Int }}")));
    let url = serve_sdl(sdl.clone()).await;
    let dir = scratch_dir("url");
    std::fs::write(
        dir.join("supergraph.yaml"),
        format!("subgraphs:\n  live:\n    schema:\n      subgraph_url: {url}\n"),
    )
    .expect("write config");
    let watcher = SupergraphWatcher::start(dir.join("supergraph.yaml"), fast())
        .await
        .expect("initial composition");
    assert!(watcher.current().sdl.contains(&format!("url: \"{url}\"")));
    let mut updates = watcher.subscribe();
    *sdl.lock().expect("lock") = format!("{LINK}\ntype Query {{ a: Int b: String }}");
    tokio::time::timeout(Duration::from_secs(5), updates.changed())
        .await
        .expect("a new supergraph within 5s")
        .expect("watcher alive");
    assert!(watcher.current().sdl.contains("b: String"));
}
