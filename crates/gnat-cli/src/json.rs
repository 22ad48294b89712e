//! JSON forms shared by the commands: payloads that may not be UTF-8 (base64 beside them).

use kv::jetstream::client::HeaderMap;
use serde_json::Value;

/// Headers as JSON: `{"Name": ["value", …]}`, or `null` when there are none.
pub(crate) fn headers_json(headers: Option<&HeaderMap>) -> Value {
    let Some(h) = headers.filter(|h| !h.is_empty()) else {
        return Value::Null;
    };
    let mut m = serde_json::Map::new();
    for (name, value) in h.iter() {
        let slot = m
            .entry(name.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = slot {
            values.push(Value::from(value));
        }
    }
    Value::Object(m)
}

/// Standard base64 with padding (for values that are not UTF-8 in JSON output).
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes base64 in either alphabet (standard or URL-safe), padded or not; `None` for other
/// characters.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// A payload in JSON: `{"<name>": "text"}` when it is UTF-8, else
/// `{"<name>": null, "<name>_base64": "…"}`.
pub(crate) fn put_payload(object: &mut serde_json::Map<String, Value>, name: &str, data: &[u8]) {
    match std::str::from_utf8(data) {
        Ok(text) => {
            object.insert(name.to_string(), Value::from(text));
        }
        Err(_) => {
            object.insert(name.to_string(), Value::Null);
            object.insert(format!("{name}_base64"), Value::from(base64(data)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foobar", &[0xff, 0xfe]] {
            assert_eq!(base64_decode(&base64(data)).as_deref(), Some(data));
        }
        assert_eq!(base64_decode("_-8").as_deref(), Some(&[0xff, 0xef][..]));
        assert!(base64_decode("a b").is_none());
    }

    #[test]
    fn base64_and_payloads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
        let mut o = serde_json::Map::new();
        put_payload(&mut o, "payload", &[0xff]);
        assert_eq!(
            Value::Object(o),
            json!({"payload": null, "payload_base64": "/w=="})
        );
    }
}
