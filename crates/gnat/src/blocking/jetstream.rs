//! The blocking JetStream context: publish with acks, and the way to the Key-Value store.

use std::sync::Arc;

use jetstream::{Context, PubAck, PublishOptions, StreamConfig, StreamInfo};

use super::Runtime;
use crate::Bytes;

fn stopped() -> jetstream::Error {
    super::closed().into()
}

/// A blocking JetStream context (see [`jetstream::Context`]); from
/// [`Client::jetstream`](super::Client::jetstream). Cheap to clone.
#[derive(Clone)]
pub struct JetStream {
    ctx: Context,
    pub(super) rt: Arc<Runtime>,
}

impl std::fmt::Debug for JetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::JetStream")
            .field("prefix", &self.ctx.prefix())
            .finish_non_exhaustive()
    }
}

impl JetStream {
    pub(super) fn new(ctx: Context, rt: Arc<Runtime>) -> Self {
        JetStream { ctx, rt }
    }

    /// The async context underneath.
    pub fn as_async(&self) -> &Context {
        &self.ctx
    }

    pub(super) fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = jetstream::Result<T>> + Send + 'static,
    ) -> jetstream::Result<T> {
        self.rt.run(fut, || Err(stopped()))
    }

    /// Publishes `payload` to `subject` and waits for the stream's ack (see
    /// [`Context::publish`]).
    pub fn publish(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> jetstream::Result<PubAck> {
        let ctx = self.ctx.clone();
        let subject = subject.as_ref().to_owned();
        let payload = payload.into();
        self.run(async move { ctx.publish(subject, payload).await })
    }

    /// Publishes with headers, expectations (message id, expected last sequence …) and retry
    /// settings, and waits for the ack (see [`Context::publish_with`]).
    pub fn publish_with(
        &self,
        subject: impl AsRef<str>,
        options: PublishOptions,
    ) -> jetstream::Result<PubAck> {
        let ctx = self.ctx.clone();
        let subject = subject.as_ref().to_owned();
        self.run(async move { ctx.publish_with(subject, options).await })
    }

    /// Creates a stream.
    pub fn create_stream(&self, config: StreamConfig) -> jetstream::Result<StreamInfo> {
        let ctx = self.ctx.clone();
        self.run(async move { ctx.create_stream(config).await })
    }

    /// A stream's configuration and state.
    pub fn stream_info(&self, name: impl AsRef<str>) -> jetstream::Result<StreamInfo> {
        let ctx = self.ctx.clone();
        let name = name.as_ref().to_owned();
        self.run(async move { ctx.stream_info(&name).await })
    }

    /// Deletes a stream and its messages.
    pub fn delete_stream(&self, name: impl AsRef<str>) -> jetstream::Result<()> {
        let ctx = self.ctx.clone();
        let name = name.as_ref().to_owned();
        self.run(async move { ctx.delete_stream(&name).await })
    }
}
