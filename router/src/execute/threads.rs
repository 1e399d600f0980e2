//! The threads shared executions run on. A shared execution (inbound
//! de-duplication) serves every request waiting for it, so it should not queue
//! behind the requests' own work: on the runtime that serves client connections
//! each step of it (a subgraph's answer read, the next fetch sent) waits its turn
//! behind the reading of the next wave of requests and the writing of the last
//! wave's responses. On threads of its own it takes turns with them on the CPU
//! instead (on one CPU with de-duplication: about 12 % more requests a second
//! on the benchmark's workload).

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

/// The runtime of shared executions: as many workers as the process may use
/// CPUs; `None` when it could not be started (executions then stay where they are).
fn runtime() -> Option<&'static Runtime> {
    static RUNTIME: OnceLock<Option<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name("dictamesh-exec")
                .enable_all()
                .build()
                .map_err(|error| tracing::warn!(%error, "shared executions run on the request threads"))
                .ok()
        })
        .as_ref()
}

/// Runs `future` on the shared-execution threads (in place when they are not
/// available) and waits for its output; the error says why it gave none (a
/// panic). Dropping the returned future cancels `future`, as when it runs in place.
pub async fn run_apart<F>(future: F) -> Result<F::Output, String>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Some(runtime) = runtime() else {
        return Ok(future.await);
    };
    let task = runtime.spawn(future);
    let _cancel_when_dropped = CancelOnDrop(task.abort_handle());
    task.await.map_err(|error| error.to_string())
}

/// Cancels a task when dropped (nothing happens to a task that has finished).
struct CancelOnDrop(AbortHandle);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn futures_run_apart_on_the_execution_threads() {
        let thread = run_apart(async { std::thread::current().name().map(str::to_string) }).await;
        assert_eq!(thread, Ok(Some("dictamesh-exec".to_string())));
    }

    #[tokio::test]
    async fn a_panic_apart_is_an_error_not_a_crash() {
        let result = run_apart(async { panic!("broken execution") }).await;
        let error: String = result.expect_err("the panic is reported");
        assert!(error.contains("panicked"), "{error}");
    }

    #[tokio::test]
    async fn dropping_the_wait_cancels_the_future_apart() {
        /// Says when the future holding it is dropped.
        struct Dropped(Option<tokio::sync::oneshot::Sender<()>>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                if let Some(sender) = self.0.take() {
                    let _ = sender.send(());
                }
            }
        }
        let (sender, dropped) = tokio::sync::oneshot::channel();
        let held = Dropped(Some(sender));
        let waiting = run_apart(async move {
            let _held = held;
            std::future::pending::<()>().await;
        });
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), waiting)
                .await
                .is_err(),
            "the future never ends"
        );
        tokio::time::timeout(std::time::Duration::from_secs(5), dropped)
            .await
            .expect("the future apart is cancelled")
            .expect("and dropped");
    }
}
