//! Bucket management on a [`Context`]: create, update, create-or-update, bind, delete, list
//! names and statuses.

use jetstream::Context;

use crate::config::{Config, STREAM_PREFIX};
use crate::error::{Error, ErrorKind, Result};
use crate::name::validate_bucket;
use crate::status::Status;
use crate::store::ObjectStore;

/// The subject filter that selects object store streams in stream listings.
const BUCKET_SUBJECTS: &str = "$O.*.M.>";

/// Turns "stream not found" (10059) into "bucket not found".
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

/// Creates bucket `config.bucket` and binds to it. An identical existing bucket is fine; one
/// with another configuration fails with [`Error::is_bucket_exists`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let js = gnat_object::jetstream::connect("nats://127.0.0.1:4222").await?;
/// let store = gnat_object::create_bucket(&js, gnat_object::Config::new("assets")).await?;
/// store.put_bytes("hello.txt", "hello").await?;
/// # Ok(()) }
/// ```
pub async fn create_bucket(js: &Context, config: Config) -> Result<ObjectStore> {
    let stream = config.to_stream_config()?;
    match js.create_stream(&stream).await {
        Ok(info) => ObjectStore::from_info(js, &info),
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
pub async fn update_bucket(js: &Context, config: Config) -> Result<ObjectStore> {
    let stream = config.to_stream_config()?;
    let info = js
        .update_stream(&stream)
        .await
        .map_err(|e| map_not_found(e, &config.bucket))?;
    ObjectStore::from_info(js, &info)
}

/// Creates the bucket, or updates it when it exists with another configuration.
pub async fn create_or_update_bucket(js: &Context, config: Config) -> Result<ObjectStore> {
    let stream = config.to_stream_config()?;
    let info = js.create_or_update_stream(&stream).await?;
    ObjectStore::from_info(js, &info)
}

/// Binds to an existing bucket (one `STREAM.INFO`); fails with [`Error::is_bucket_not_found`]
/// (and [`Error::is_not_found`]) when there is none.
pub async fn bind(js: &Context, bucket: &str) -> Result<ObjectStore> {
    validate_bucket(bucket)?;
    let info = js
        .stream_info(&Config::stream_name(bucket))
        .await
        .map_err(|e| map_not_found(e, bucket))?;
    ObjectStore::from_info(js, &info)
}

/// Deletes a bucket and every object in it; fails with [`Error::is_bucket_not_found`] when
/// there is none.
pub async fn delete_bucket(js: &Context, bucket: &str) -> Result<()> {
    validate_bucket(bucket)?;
    js.delete_stream(&Config::stream_name(bucket))
        .await
        .map_err(|e| map_not_found(e, bucket))
}

/// The names of every object store bucket in the account (streams named `OBJ_*` capturing
/// `$O.*.M.>`).
pub async fn bucket_names(js: &Context) -> Result<Vec<String>> {
    let names = js.stream_names_matching(BUCKET_SUBJECTS).await?;
    let mut names: Vec<String> = names
        .into_iter()
        .filter_map(|n| n.strip_prefix(STREAM_PREFIX).map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// The status of every object store bucket in the account (as [`bucket_names`] selects
/// them).
pub async fn bucket_statuses(js: &Context) -> Result<Vec<Status>> {
    let infos = js.streams_matching(BUCKET_SUBJECTS).await?;
    let mut statuses: Vec<Status> = infos
        .into_iter()
        .filter_map(|info| {
            let bucket = info.config.name.strip_prefix(STREAM_PREFIX)?.to_string();
            Some(Status::new(bucket, info))
        })
        .collect();
    statuses.sort_by(|a, b| a.bucket().cmp(b.bucket()));
    Ok(statuses)
}
