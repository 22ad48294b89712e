//! Object info and meta (ADR-20 "Structures"): the JSON stored as the payload of the meta
//! message `$O.<bucket>.M.<base64url(name)>`, field names as the other clients write them.
//! Unknown fields are ignored and `null`s read as empty, so info written by any client reads.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Deserializer, Serialize};

use jetstream::Timestamp;

/// Object headers: names to values, as HTTP-style multi-maps (`{"k":["v1","v2"]}`).
pub type Headers = BTreeMap<String, Vec<String>>;

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn epoch() -> Timestamp {
    Timestamp::UNIX_EPOCH
}

/// A link to another object, or (without a name) to a whole bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLink {
    /// The bucket linked to.
    pub bucket: String,
    /// The object linked to; `None` for a link to the whole bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Per-object options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectOptions {
    /// Set when the object is a link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<ObjectLink>,
    /// The chunk size the object was written with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chunk_size: Option<u32>,
}

impl ObjectOptions {
    fn is_empty(&self) -> bool {
        self.link.is_none() && self.max_chunk_size.is_none()
    }
}

/// What a writer says about an object: its name, description, headers and metadata, and the
/// chunk size for a put.
///
/// ```
/// use gnat_object::ObjectMeta;
/// let meta = ObjectMeta::new("report.pdf")
///     .description("monthly report")
///     .header("Content-Type", "application/pdf")
///     .metadata("owner", "finance")
///     .chunk_size(256 * 1024);
/// assert_eq!(meta.name, "report.pdf");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// The object's name (any non-empty UTF-8 string).
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Headers.
    pub headers: Headers,
    /// Application metadata.
    pub metadata: HashMap<String, String>,
    /// The chunk size of a put (default 128 KiB; at most the server's max payload).
    pub chunk_size: Option<u32>,
}

impl ObjectMeta {
    /// Meta for an object named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        ObjectMeta {
            name: name.into(),
            ..ObjectMeta::default()
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds a header value.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .entry(name.into())
            .or_default()
            .push(value.into());
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the chunk size of a put.
    pub fn chunk_size(mut self, bytes: u32) -> Self {
        self.chunk_size = Some(bytes);
        self
    }
}

impl From<&str> for ObjectMeta {
    fn from(name: &str) -> Self {
        ObjectMeta::new(name)
    }
}

impl From<String> for ObjectMeta {
    fn from(name: String) -> Self {
        ObjectMeta::new(name)
    }
}

/// An object's info: its meta plus where and what it is (ADR-20 `ObjectInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// The object's name.
    pub name: String,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Headers.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub headers: Headers,
    /// Application metadata.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub metadata: HashMap<String, String>,
    /// Options: the link, the chunk size.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "ObjectOptions::is_empty"
    )]
    pub options: ObjectOptions,
    /// The bucket it is in.
    #[serde(default)]
    pub bucket: String,
    /// The unique id of this version: its chunks are on `$O.<bucket>.C.<nuid>`.
    #[serde(default)]
    pub nuid: String,
    /// Its size in bytes.
    #[serde(default)]
    pub size: u64,
    /// When its meta message was stored (never written in the JSON, ADR-20 "Modified
    /// Time"; read from the message).
    #[serde(skip, default = "epoch")]
    pub mtime: Timestamp,
    /// How many chunks it has.
    #[serde(default)]
    pub chunks: u64,
    /// `SHA-256=<base64url>` of its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Whether it was deleted (a deleted object keeps a meta message with this set).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

impl ObjectInfo {
    /// The link, when this is a link.
    pub fn link(&self) -> Option<&ObjectLink> {
        self.options.link.as_ref()
    }

    /// Whether this is a link (to an object or to a bucket).
    pub fn is_link(&self) -> bool {
        self.options.link.is_some()
    }

    /// Whether this is a link to a whole bucket.
    pub fn is_bucket_link(&self) -> bool {
        self.options
            .link
            .as_ref()
            .is_some_and(|l| l.name.as_deref().is_none_or(str::is_empty))
    }

    /// The JSON stored in the meta message.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        // Serializing plain strings, numbers and maps of strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An info for `meta` with everything else empty.
    pub(crate) fn from_meta(bucket: &str, meta: &ObjectMeta) -> ObjectInfo {
        ObjectInfo {
            name: meta.name.clone(),
            description: meta.description.clone(),
            headers: meta.headers.clone(),
            metadata: meta.metadata.clone(),
            options: ObjectOptions::default(),
            bucket: bucket.to_string(),
            nuid: String::new(),
            size: 0,
            mtime: Timestamp::now(),
            chunks: 0,
            digest: None,
            deleted: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_what_other_clients_write() {
        // The ADR-20 example, with a Go-style zero mtime and nulls.
        let v = json!({"name":"object-name","description":"object-desc",
            "metadata":{"owner":"infra"},"headers":{"key1":["foo"],"key2":["bar","baz"]},
            "options":{"link":{"bucket":"link-to-bucket","name":"link-to-name"},
                "max_chunk_size":8196},
            "bucket":"object-bucket","nuid":"CkuyLEX4z2hbyjj1aWCfiH","size":344000,
            "mtime":"0001-01-01T00:00:00Z","chunks":42,"digest":"SHA-256=abc=","deleted":true,
            "future":1});
        let info: ObjectInfo = serde_json::from_value(v).unwrap();
        assert_eq!(info.headers["key2"], vec!["bar", "baz"]);
        assert_eq!(info.metadata["owner"], "infra");
        assert_eq!(info.link().unwrap().name.as_deref(), Some("link-to-name"));
        assert!(info.is_link() && !info.is_bucket_link() && info.deleted);
        assert_eq!((info.size, info.chunks), (344000, 42));
        let nulls = json!({"name":"n","bucket":"b","headers":null,"metadata":null,
            "options":null,"nuid":"x","size":0,"chunks":0});
        let info: ObjectInfo = serde_json::from_value(nulls).unwrap();
        assert!(info.headers.is_empty() && info.metadata.is_empty() && !info.is_link());
    }

    #[test]
    fn writes_no_mtime_and_no_empty_fields() {
        let mut info = ObjectInfo::from_meta("b", &ObjectMeta::new("n"));
        info.nuid = "X".into();
        info.options.link = Some(ObjectLink {
            bucket: "o".into(),
            name: None,
        });
        let v: serde_json::Value = serde_json::from_slice(&info.to_json()).unwrap();
        assert_eq!(
            v,
            json!({"name":"n","options":{"link":{"bucket":"o"}},"bucket":"b","nuid":"X",
                "size":0,"chunks":0})
        );
        assert!(info.is_bucket_link());
    }
}
