//! NATS JWTs (v2): `base64url(header).base64url(claims).base64url(signature)`, no padding,
//! signed with Ed25519 by the issuer's [`NKey`].
//!
//! The base64url codec (and `nkey.rs`'s base32/CRC-16) are written here again on purpose,
//! independently of `gnat_client::auth`'s: this crate is the oracle the client's codecs are
//! tested against, so it must not share their code (or their bugs). Library code uses
//! `gnat_client::auth::{base64url_nopad, base64_std_encode, base64_std_decode}`.

use std::time::{SystemTime, UNIX_EPOCH};

use ring::digest::{SHA512_256, digest};
use serde_json::{Value, json};

use super::nkey::{NKey, base32_encode, verify};

/// The JOSE header of every NATS v2 JWT.
pub const JWT_HEADER: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Encodes and signs a JWT issued by `issuer` about `subject` (a public key), with `name` and
/// the type-specific `nats` object (which must hold `type` and `version: 2`).
///
/// Sets the standard claims `jti`, `iat` (now), `iss` (the issuer's public key), `name` and
/// `sub`. `jti` is computed like the Go library does: base32 (no padding) of SHA-512/256 of the
/// JSON object `{"iat":…,"iss":…,"name":…,"sub":…}` (the standard claims without `jti`, in that
/// order). The server does not check it, but tools do, so we keep it right.
pub fn encode_jwt(issuer: &NKey, subject: &str, name: &str, nats: Value) -> String {
    let iat = unix_now();
    let iss = issuer.public_key();
    let jti = jti(iat, &iss, name, subject);
    let claims = json!({
        "jti": jti,
        "iat": iat,
        "iss": iss,
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let signed = format!(
        "{}.{}",
        base64url(JWT_HEADER.as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    let sig = base64url(&issuer.sign(signed.as_bytes()));
    format!("{signed}.{sig}")
}

/// The `jti` of claims with these standard fields (and no `aud`, `exp` or `nbf`).
pub(crate) fn jti(iat: i64, iss: &str, name: &str, sub: &str) -> String {
    // Built by hand to keep Go's field order (serde_json's map would sort the keys).
    let text = format!(
        "{{\"iat\":{iat},\"iss\":{},\"name\":{},\"sub\":{}}}",
        Value::from(iss),
        Value::from(name),
        Value::from(sub)
    );
    base32_encode(digest(&SHA512_256, text.as_bytes()).as_ref())
}

/// Decodes a JWT and checks it: three parts, the NATS header, and a valid signature by the key
/// in its `iss` claim. Returns the claims.
pub fn decode_jwt(jwt: &str) -> Result<Value, String> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(claims), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("{jwt:?}: a JWT has three parts"));
    };
    let header: Value = serde_json::from_slice(&base64url_decode(header)?)
        .map_err(|e| format!("JWT header is not JSON: {e}"))?;
    if header["typ"] != "JWT" || header["alg"] != "ed25519-nkey" {
        return Err(format!("unexpected JWT header {header}"));
    }
    let claims: Value = serde_json::from_slice(&base64url_decode(claims)?)
        .map_err(|e| format!("JWT claims are not JSON: {e}"))?;
    let iss = claims["iss"]
        .as_str()
        .ok_or_else(|| format!("JWT claims without iss: {claims}"))?;
    let signed_len = jwt.len() - sig.len() - 1;
    verify(iss, &jwt.as_bytes()[..signed_len], &base64url_decode(sig)?)?;
    Ok(claims)
}

const BASE64URL_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url (RFC 4648 §5) without padding, as JWTs and the `CONNECT` `sig` field use it.
pub fn base64url(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // One more character than whole bytes: 1 byte → 2 characters, 2 → 3, 3 → 4.
        for i in 0..=chunk.len() {
            let index = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(BASE64URL_ALPHABET[index as usize]));
        }
    }
    out
}

/// Decodes base64url without padding; rejects padding, other characters, impossible lengths
/// and non-zero trailing bits.
pub fn base64url_decode(text: &str) -> Result<Vec<u8>, String> {
    if text.len() % 4 == 1 {
        return Err(format!("{text:?}: impossible base64 length {}", text.len()));
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return Err(format!("{text:?}: {:?} is not base64url", char::from(c))),
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            // Truncation keeps exactly the 8 bits just completed.
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if buffer != 0 {
        return Err(format!("{text:?}: non-zero trailing bits"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (raw, text) in vectors {
            assert_eq!(base64url(raw), text);
            assert_eq!(base64url_decode(text).unwrap(), raw);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert!(base64url_decode("Zh").is_err(), "trailing bits");
        assert!(base64url_decode("Zm8=").is_err(), "padding");
        assert!(base64url_decode("Z").is_err(), "length");
    }

    #[test]
    fn header_encoding_is_the_well_known_one() {
        assert_eq!(
            base64url(JWT_HEADER.as_bytes()),
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ"
        );
    }

    /// Expected value computed independently (Python `hashlib.new("sha512_256")` and
    /// `base64.b32encode`) for the same JSON text.
    #[test]
    fn jti_is_base32_of_sha512_256_of_the_standard_claims() {
        let iss = "OAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPSBVV3";
        let sub = "UAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPSBVV3";
        assert_eq!(
            jti(1_700_000_000, iss, "gnat", sub),
            "6TMJQBY4LYFVXYAYA6PR6VVQK2LMANBAXQS2HN3YXGMWUTXY4NYA"
        );
    }

    #[test]
    fn encoded_jwt_decodes_and_verifies() {
        let operator = NKey::new_operator();
        let account = NKey::new_account();
        let jwt = encode_jwt(
            &operator,
            &account.public_key(),
            "acct",
            json!({"type": "account", "version": 2}),
        );
        let claims = decode_jwt(&jwt).unwrap();
        assert_eq!(claims["iss"], operator.public_key());
        assert_eq!(claims["sub"], account.public_key());
        assert_eq!(claims["nats"]["type"], "account");
        let iat = claims["iat"].as_i64().unwrap();
        assert_eq!(
            claims["jti"],
            jti(iat, &operator.public_key(), "acct", &account.public_key())
        );
        // Tampered claims fail the signature check.
        let parts: Vec<&str> = jwt.split('.').collect();
        let forged = base64url(
            String::from_utf8(base64url_decode(parts[1]).unwrap())
                .unwrap()
                .replace("acct", "acc2")
                .as_bytes(),
        );
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert!(decode_jwt(&tampered).is_err());
    }
}
