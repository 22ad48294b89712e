//! Stream info with details: the deleted sequences (`deleted_details`) and the per-subject
//! message counts (`subjects_filter`), the latter fetched page by page (`offset`, `total`)
//! until the server has sent them all.

use std::collections::HashMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::context::{Context, decode_reply, validate_token};
use crate::error::{Error, ErrorKind, Result};
use crate::stream::{StreamInfo, check_subject_filter};

/// What [`Context::stream_info_with`] asks the server to add to the stream's state.
///
/// ```
/// use gnat_jetstream::StreamInfoOptions;
/// let options = StreamInfoOptions::new().deleted_details(true).subjects("orders.>");
/// assert!(options.deleted_details);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamInfoOptions {
    /// Fill in [`StreamState::deleted`](crate::StreamState::deleted): every sequence between
    /// the first and last that was deleted (interior deletes).
    pub deleted_details: bool,
    /// Fill in [`StreamState::subjects`](crate::StreamState::subjects) for the subjects
    /// matching this filter (`>` for all), every page.
    pub subjects_filter: Option<String>,
}

impl StreamInfoOptions {
    /// Nothing extra.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `deleted_details`.
    pub fn deleted_details(mut self, on: bool) -> Self {
        self.deleted_details = on;
        self
    }

    /// Sets `subjects_filter`.
    pub fn subjects(mut self, filter: impl Into<String>) -> Self {
        self.subjects_filter = Some(filter.into());
        self
    }
}

#[derive(Serialize)]
struct DetailsRequest<'a> {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted_details: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    subjects_filter: Option<&'a str>,
    #[serde(skip_serializing_if = "is_zero")]
    offset: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    total: usize,
}

/// Most pages one call follows; the server sends up to 100 000 subjects a page, so this is
/// far beyond any real stream and only guards against a server that never says "done".
const MAX_PAGES: usize = 10_000;

impl Context {
    /// The stream's configuration and state with the details `options` asks for. Subjects
    /// are fetched page by page until all matching ones are in; the other fields come from
    /// the first page.
    pub async fn stream_info_with(
        &self,
        name: &str,
        options: &StreamInfoOptions,
    ) -> Result<StreamInfo> {
        validate_token("stream", name)?;
        if let Some(filter) = &options.subjects_filter {
            check_subject_filter(filter)?;
        }
        let op = format!("STREAM.INFO.{name}");
        let mut first: Option<StreamInfo> = None;
        let mut subjects: HashMap<String, u64> = HashMap::new();
        let mut offset = 0usize;
        for _ in 0..MAX_PAGES {
            let body = serde_json::to_vec(&DetailsRequest {
                deleted_details: options.deleted_details,
                subjects_filter: options.subjects_filter.as_deref(),
                offset,
            })?;
            let reply = self.request_raw(&op, Bytes::from(body)).await?;
            let mut info: StreamInfo = decode_reply(&reply.payload)?;
            if options.subjects_filter.is_none() {
                return Ok(info);
            }
            let total = serde_json::from_slice::<Paging>(&reply.payload)?.total;
            let got = info.state.subjects.take().unwrap_or_default();
            let n = got.len();
            subjects.extend(got);
            offset = offset.saturating_add(n);
            let info = first.get_or_insert(info);
            if n == 0 || offset >= total {
                info.state.subjects = Some(subjects);
                return Ok(first.unwrap_or_default());
            }
        }
        Err(Error::new(
            ErrorKind::Decode,
            format!("stream info of {name:?}: subjects still incomplete after {MAX_PAGES} pages"),
        ))
    }
}
