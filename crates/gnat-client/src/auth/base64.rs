//! Base64 (RFC 4648): base64url without padding for the CONNECT `sig` and JWT segments, and
//! the standard alphabet with padding for JetStream payloads. The one copy in the workspace
//! that library code uses (test-support keeps its own on purpose, as an independent oracle).

/// Why a base64 string could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base64Error {
    /// A byte outside the alphabet (or `=` before the end).
    #[error("invalid base64 byte 0x{byte:02x} at offset {index}")]
    InvalidByte {
        /// Offset in the input.
        index: usize,
        /// The offending byte.
        byte: u8,
    },
    /// A length no encoder produces, or padding that does not fit the length.
    #[error("invalid base64 length or padding")]
    InvalidLength,
}

const BASE64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64_encode(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                let index = (n >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(alphabet[index as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// RFC 4648 §5 base64url without padding (the CONNECT `sig` encoding).
pub fn base64url_nopad(data: &[u8]) -> String {
    base64_encode(data, BASE64_URL, false)
}

/// RFC 4648 §4 standard base64 with `=` padding.
pub fn base64_std_encode(data: &[u8]) -> String {
    base64_encode(data, BASE64_STD, true)
}

/// Decodes RFC 4648 §4 standard base64 (`+`, `/`).
///
/// Padding is optional, but when present it must complete the last group of
/// four. No whitespace is allowed. Non-zero bits after the last full byte are
/// ignored, as Go's `encoding/base64` (what nats-server uses) does.
pub fn base64_std_decode(s: &str) -> Result<Vec<u8>, Base64Error> {
    let bytes = s.as_bytes();
    let pads = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if pads > 2 || (pads > 0 && !bytes.len().is_multiple_of(4)) {
        return Err(Base64Error::InvalidLength);
    }
    let data = &bytes[..bytes.len() - pads];
    if data.len() % 4 == 1 {
        return Err(Base64Error::InvalidLength);
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for (index, &byte) in data.iter().enumerate() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(Base64Error::InvalidByte { index, byte }),
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}
