//! Bucket management on a [`Context`] (spec §5.3): create, update, create-or-update, bind,
//! delete, list names and statuses.

use jetstream::Context;

use crate::config::{Config, STREAM_PREFIX};
use crate::error::{Error, ErrorKind, Result};
use crate::name::validate_bucket;
use crate::status::Status;
use crate::store::Store;

/// The subject filter that selects Key-Value streams in stream listings.
const BUCKET_SUBJECTS: &str = "$KV.*.>";

/// Turns "stream not found" into "bucket not found".
pub(crate) fn map_not_found(e: jetstream::Error, bucket: &str) -> Error {
    if e.is_stream_not_found() {
        Error::with_source(
            ErrorKind::BucketNotFound,
            format!("bucket {bucket} not found"),
            e,
        )
    } else {
        e.into()
    }
}

/// Refuses limit markers when the account's JetStream API level is below 1 (ADR-48).
fn check_api_level(level: u32) -> Result<()> {
    if level < 1 {
        return Err(Error::new(
            ErrorKind::LimitMarkersUnsupported,
            format!("limit markers need JetStream API level 1 or more; the account has {level}"),
        ));
    }
    Ok(())
}

/// Checks the configuration (nothing is sent if it is invalid) and, when it asks for limit
/// markers, the account's API level.
async fn prepare(js: &Context, config: &Config) -> Result<jetstream::StreamConfig> {
    let stream = config.to_stream_config()?;
    if !config.limit_marker_ttl.is_zero() {
        check_api_level(js.account_info().await?.api.level)?;
    }
    Ok(stream)
}

/// Creates bucket `config.bucket` and binds to it. An identical existing bucket is fine; one
/// with another configuration fails with [`Error::is_bucket_exists`].
pub async fn create_bucket(js: &Context, config: Config) -> Result<Store> {
    let stream = prepare(js, &config).await?;
    match js.create_stream(&stream).await {
        Ok(info) => Store::from_info(js, &info),
        Err(e) if e.is_stream_name_in_use() => Err(Error::with_source(
            ErrorKind::BucketExists,
            format!("bucket {} exists with another configuration", config.bucket),
            e,
        )),
        Err(e) => Err(e.into()),
    }
}

/// Updates an existing bucket's configuration (fails with [`Error::is_bucket_not_found`]
/// when there is none) and binds to it.
pub async fn update_bucket(js: &Context, config: Config) -> Result<Store> {
    let stream = prepare(js, &config).await?;
    let info = js
        .update_stream(&stream)
        .await
        .map_err(|e| map_not_found(e, &config.bucket))?;
    Store::from_info(js, &info)
}

/// Creates the bucket, or updates it when it exists with another configuration.
pub async fn create_or_update_bucket(js: &Context, config: Config) -> Result<Store> {
    let stream = prepare(js, &config).await?;
    let info = js.create_or_update_stream(&stream).await?;
    Store::from_info(js, &info)
}

/// Binds to an existing bucket (one `STREAM.INFO`); fails with
/// [`Error::is_bucket_not_found`] when there is none.
pub async fn bind(js: &Context, bucket: &str) -> Result<Store> {
    validate_bucket(bucket)?;
    let info = js
        .stream_info(&Config::stream_name(bucket))
        .await
        .map_err(|e| map_not_found(e, bucket))?;
    Store::from_info(js, &info)
}

/// Deletes a bucket and everything in it; fails with [`Error::is_bucket_not_found`] when
/// there is none.
pub async fn delete_bucket(js: &Context, bucket: &str) -> Result<()> {
    validate_bucket(bucket)?;
    js.delete_stream(&Config::stream_name(bucket))
        .await
        .map_err(|e| map_not_found(e, bucket))
}

/// The names of every bucket in the account (streams named `KV_*` capturing `$KV.*.>`;
/// mirrors, which capture nothing, are not listed).
pub async fn bucket_names(js: &Context) -> Result<Vec<String>> {
    let names = js.stream_names_matching(BUCKET_SUBJECTS).await?;
    Ok(names
        .into_iter()
        .filter_map(|n| n.strip_prefix(STREAM_PREFIX).map(str::to_string))
        .collect())
}

/// The status of every bucket in the account (as [`bucket_names`] selects them).
pub async fn bucket_statuses(js: &Context) -> Result<Vec<Status>> {
    let infos = js.streams_matching(BUCKET_SUBJECTS).await?;
    Ok(infos
        .into_iter()
        .filter_map(|info| {
            let bucket = info.config.name.strip_prefix(STREAM_PREFIX)?.to_string();
            Some(Status::new(bucket, info))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_markers_need_api_level_one() {
        // Spec §6 item 59 (the refusal; a level-0 server is not at hand).
        assert!(
            check_api_level(0)
                .unwrap_err()
                .is_limit_markers_unsupported()
        );
        check_api_level(1).unwrap();
        check_api_level(3).unwrap();
    }
}
