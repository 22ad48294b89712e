//! Consumer management on [`Context`]: create (three actions), update, info, delete, names and
//! list.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::consumer::config::ConsumerConfig;
use crate::consumer::info::ConsumerInfo;
use crate::context::{Context, validate_token};
use crate::error::{Error, ErrorKind, Result};
use crate::stream::check_subject_filter;

/// The `action` of a create request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    CreateOrUpdate,
    Create,
    Update,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::CreateOrUpdate => "",
            Action::Create => "create",
            Action::Update => "update",
        }
    }
}

#[derive(Serialize)]
struct CreateRequest<'a> {
    stream_name: &'a str,
    config: &'a ConsumerConfig,
    action: &'static str,
}

#[derive(Serialize)]
struct PageRequest {
    offset: u64,
}

#[derive(Deserialize)]
struct NamesPage {
    #[serde(default)]
    total: u64,
    #[serde(default)]
    consumers: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    total: u64,
    #[serde(default)]
    consumers: Option<Vec<ConsumerInfo>>,
}

#[derive(Deserialize)]
struct DeleteReply {
    #[serde(default)]
    success: bool,
}

/// A filter that can be carried as subject tokens: a valid publish subject, so no wildcards
/// (our client refuses to publish to `*`/`>` tokens).
fn literal_filter(filter: &str) -> bool {
    client::proto::validate_publish_subject(filter).is_ok()
}

impl Context {
    /// Creates a consumer, or updates it if one with the same name exists (action `""`).
    ///
    /// Named consumers use `CONSUMER.CREATE.<stream>.<name>` (with `.<filter>` appended when
    /// there is exactly one literal `filter_subject`); unnamed ones `CONSUMER.CREATE.<stream>`.
    pub async fn create_consumer(
        &self,
        stream: &str,
        config: ConsumerConfig,
    ) -> Result<ConsumerInfo> {
        self.consumer_action(stream, &config, Action::CreateOrUpdate)
            .await
    }

    /// Creates a consumer, failing with err_code 10148 when one with the same name and a
    /// different configuration exists (action `"create"`; an identical one is returned).
    pub async fn create_consumer_strict(
        &self,
        stream: &str,
        config: ConsumerConfig,
    ) -> Result<ConsumerInfo> {
        self.consumer_action(stream, &config, Action::Create).await
    }

    /// Updates an existing consumer, failing with err_code 10149 when it does not exist
    /// (action `"update"`). The configuration must carry the consumer's name.
    pub async fn update_consumer(
        &self,
        stream: &str,
        config: ConsumerConfig,
    ) -> Result<ConsumerInfo> {
        self.consumer_action(stream, &config, Action::Update).await
    }

    async fn consumer_action(
        &self,
        stream: &str,
        config: &ConsumerConfig,
        action: Action,
    ) -> Result<ConsumerInfo> {
        validate_token("stream", stream)?;
        if let (Some(n), Some(d)) = (&config.name, &config.durable_name)
            && n != d
        {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("consumer name {n:?} and durable name {d:?} differ"),
            ));
        }
        let single_filter = config.filter_subject.as_deref().filter(|f| !f.is_empty());
        if single_filter.is_some() && !config.filter_subjects.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "filter_subject and filter_subjects are exclusive",
            ));
        }
        // A filter may become subject tokens (below), and a bad one is refused here with a
        // clear error rather than by the server.
        for filter in single_filter
            .into_iter()
            .chain(config.filter_subjects.iter().map(String::as_str))
        {
            check_subject_filter(filter)?;
        }
        let name = config.effective_name();
        let op = match name {
            Some(name) => {
                validate_token("consumer", name)?;
                match single_filter.filter(|f| literal_filter(f)) {
                    Some(filter) => format!("CONSUMER.CREATE.{stream}.{name}.{filter}"),
                    None => format!("CONSUMER.CREATE.{stream}.{name}"),
                }
            }
            None if action == Action::Update => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "updating a consumer needs its name",
                ));
            }
            None => format!("CONSUMER.CREATE.{stream}"),
        };
        let request = CreateRequest {
            stream_name: stream,
            config,
            action: action.as_str(),
        };
        let info: ConsumerInfo = self.request(&op, &request).await?;
        if !config.filter_subjects.is_empty() && info.config.filter_subjects.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "the server ignored filter_subjects of consumer {:?} (multiple filters need \
                     nats-server 2.10 or newer)",
                    info.name
                ),
            ));
        }
        Ok(info)
    }

    /// The consumer's current state. A missing consumer fails with err_code 10014
    /// ([`Error::is_consumer_not_found`]).
    pub async fn consumer_info(&self, stream: &str, consumer: &str) -> Result<ConsumerInfo> {
        validate_token("stream", stream)?;
        validate_token("consumer", consumer)?;
        self.request_bytes(&format!("CONSUMER.INFO.{stream}.{consumer}"), Bytes::new())
            .await
    }

    /// Deletes a consumer.
    pub async fn delete_consumer(&self, stream: &str, consumer: &str) -> Result<()> {
        validate_token("stream", stream)?;
        validate_token("consumer", consumer)?;
        let reply: DeleteReply = self
            .request_bytes(
                &format!("CONSUMER.DELETE.{stream}.{consumer}"),
                Bytes::new(),
            )
            .await?;
        if reply.success {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Decode,
                format!("deleting consumer {consumer:?}: the server did not report success"),
            ))
        }
    }

    /// The names of every consumer of `stream`, all pages.
    pub async fn consumer_names(&self, stream: &str) -> Result<Vec<String>> {
        validate_token("stream", stream)?;
        let op = format!("CONSUMER.NAMES.{stream}");
        let mut names = Vec::new();
        loop {
            let page: NamesPage = self
                .request(
                    &op,
                    &PageRequest {
                        offset: names.len() as u64,
                    },
                )
                .await?;
            let got = page.consumers.unwrap_or_default();
            if got.is_empty() {
                break;
            }
            names.extend(got);
            if names.len() as u64 >= page.total {
                break;
            }
        }
        Ok(names)
    }

    /// The state of every consumer of `stream`, all pages.
    pub async fn consumers(&self, stream: &str) -> Result<Vec<ConsumerInfo>> {
        validate_token("stream", stream)?;
        let op = format!("CONSUMER.LIST.{stream}");
        let mut infos = Vec::new();
        loop {
            let page: ListPage = self
                .request(
                    &op,
                    &PageRequest {
                        offset: infos.len() as u64,
                    },
                )
                .await?;
            let got = page.consumers.unwrap_or_default();
            if got.is_empty() {
                break;
            }
            infos.extend(got);
            if infos.len() as u64 >= page.total {
                break;
            }
        }
        Ok(infos)
    }
}
