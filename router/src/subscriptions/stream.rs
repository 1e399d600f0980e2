//! The event loop of one subscription: read the log from the cursor, keep the
//! events the client follows, resolve and shape each one.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use dictamesh::events::EntityChangeEvent;
use dictamesh::events::bus::Delivery;
use dictamesh::events::codec::Decoder;
use dictamesh::events::feed::ChangeFeed;
use dictamesh::events::feed::Cursor;
use futures::stream::BoxStream;
use futures::stream::StreamExt;

use super::CHANGE_TOPICS;
use super::EntityChangeSubscriptions;
use super::EntityChangedRequest;
use crate::execute::GraphQLResponse;
use crate::execute::graphql_error;

/// The responses (`{data, errors}`) of one subscription, one per event.
pub type EventStream = BoxStream<'static, GraphQLResponse>;

/// Messages read from the log per call.
const BATCH: usize = 100;

/// How long one read waits for new messages before asking again.
const WAIT: Duration = Duration::from_secs(15);

/// Events whose entities are resolved at the same time (delivered in order).
const RESOLVING: usize = 16;

/// An event the client follows, with the cursor after it; or the error that ends
/// the stream.
type Followed = Result<(EntityChangeEvent, String), GraphQLResponse>;

struct Follower {
    feed: Arc<dyn ChangeFeed>,
    request: Arc<EntityChangedRequest>,
    cursor: Cursor,
    pending: VecDeque<Delivery>,
    decoder: Decoder,
    failed: bool,
}

pub(super) fn events(
    service: Arc<EntityChangeSubscriptions>,
    feed: Arc<dyn ChangeFeed>,
    request: EntityChangedRequest,
    start: Cursor,
) -> EventStream {
    let request = Arc::new(request);
    let follower = Follower {
        decoder: feed.decoder(),
        feed,
        request: request.clone(),
        cursor: start,
        pending: VecDeque::new(),
        failed: false,
    };
    futures::stream::unfold(follower, |mut follower| async move {
        let followed = follower.next().await?;
        Some((followed, follower))
    })
    .map(move |followed| {
        let service = service.clone();
        let request = request.clone();
        async move {
            match followed {
                Ok((event, cursor)) => service.payload(&request, &event, &cursor).await,
                Err(error) => error,
            }
        }
    })
    .buffered(RESOLVING)
    .boxed()
}

impl Follower {
    /// The next event followed; `None` ends the stream (after a log error).
    async fn next(&mut self) -> Option<Followed> {
        if self.failed {
            return None;
        }
        loop {
            let Some(delivery) = self.pending.pop_front() else {
                match self.feed.read(CHANGE_TOPICS, &self.cursor, BATCH, WAIT).await {
                    Ok(batch) => self.pending.extend(batch),
                    Err(error) => {
                        self.failed = true;
                        tracing::warn!(%error, "entityChanged: the change log cannot be read");
                        return Some(Err(GraphQLResponse::from_errors(vec![graphql_error(
                            format!(
                                "the change log cannot be read ({error}); resubscribe with the last cursor to resume"
                            ),
                            "CHANGE_LOG_UNAVAILABLE",
                        )])));
                    }
                }
                continue;
            };
            self.cursor.advance(&delivery);
            let event = match self
                .decoder
                .decode(&delivery.payload, delivery.header("content-type"))
                .await
            {
                Ok(event) => event,
                Err(error) => {
                    tracing::debug!(%error, topic = %delivery.topic, offset = delivery.offset, "entityChanged: skipping a message that is not a change event");
                    continue;
                }
            };
            if event.entity.entity_type != self.request.entity_type
                || self
                    .request
                    .entity_id
                    .as_ref()
                    .is_some_and(|id| *id != event.entity.id)
            {
                continue;
            }
            return Some(Ok((event, self.cursor.encode())));
        }
    }
}
