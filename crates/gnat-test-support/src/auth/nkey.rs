//! NKeys: Ed25519 key pairs with a type, in their text encodings.
//!
//! A public key is base32 (RFC 4648 alphabet, no padding) of
//! `[prefix byte | 32-byte Ed25519 public key | CRC-16 little-endian]`; a seed is base32 of
//! `[seed byte 1 | seed byte 2 | 32-byte Ed25519 seed | CRC-16 little-endian]`, where the two seed
//! bytes spread the 5-bit seed marker (`S`) and the key type's prefix over the first two base32
//! characters, so a user seed reads `SU…`. The checksum is CRC-16/XMODEM over everything before
//! it.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

/// The seed marker; base32-encodes to `S`.
const SEED_PREFIX: u8 = 18 << 3;

/// What an [`NKey`] identifies; each kind has its own prefix byte, so its public key starts with
/// its own letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// An operator: signs account JWTs. Public keys start with `O`, seeds with `SO`.
    Operator,
    /// An account: signs user JWTs. Public keys start with `A`, seeds with `SA`.
    Account,
    /// A user: signs the server's nonce. Public keys start with `U`, seeds with `SU`.
    User,
}

impl KeyKind {
    /// The prefix byte: operator `14 << 3`, account `0`, user `20 << 3`.
    pub fn prefix_byte(self) -> u8 {
        match self {
            KeyKind::Operator => 14 << 3,
            KeyKind::Account => 0,
            KeyKind::User => 20 << 3,
        }
    }

    /// The kind with this prefix byte, if it is one of ours.
    pub fn from_prefix_byte(byte: u8) -> Option<KeyKind> {
        [KeyKind::Operator, KeyKind::Account, KeyKind::User]
            .into_iter()
            .find(|kind| kind.prefix_byte() == byte)
    }
}

/// An Ed25519 key pair of one [`KeyKind`].
///
/// `Debug` shows the kind and public key, never the seed.
#[derive(Clone, PartialEq, Eq)]
pub struct NKey {
    kind: KeyKind,
    seed: [u8; 32],
    public: [u8; 32],
}

impl fmt::Debug for NKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NKey")
            .field("kind", &self.kind)
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl NKey {
    /// A new key of `kind` from a random seed.
    ///
    /// # Panics
    ///
    /// If the system random source fails.
    pub fn new(kind: KeyKind) -> NKey {
        let mut seed = [0u8; 32];
        SystemRandom::new()
            .fill(&mut seed)
            .expect("the system random source failed");
        NKey::from_raw_seed(kind, seed)
    }

    /// A new operator key (`O…`, seed `SO…`).
    pub fn new_operator() -> NKey {
        NKey::new(KeyKind::Operator)
    }

    /// A new account key (`A…`, seed `SA…`).
    pub fn new_account() -> NKey {
        NKey::new(KeyKind::Account)
    }

    /// A new user key (`U…`, seed `SU…`).
    pub fn new_user() -> NKey {
        NKey::new(KeyKind::User)
    }

    /// The key of `kind` whose 32-byte Ed25519 seed is `seed`.
    pub fn from_raw_seed(kind: KeyKind, seed: [u8; 32]) -> NKey {
        // Any 32 bytes are a valid Ed25519 seed; ring only rejects a wrong length.
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("a 32-byte seed");
        let mut public = [0u8; 32];
        public.copy_from_slice(pair.public_key().as_ref());
        NKey { kind, seed, public }
    }

    /// Decodes an encoded seed (`SO…`, `SA…`, `SU…`), checking its checksum and prefixes.
    pub fn from_seed(encoded: &str) -> Result<NKey, String> {
        let raw = decode_checked(encoded)?;
        let [b1, b2, seed @ ..] = raw.as_slice() else {
            return Err(format!("seed {encoded:?} is too short"));
        };
        if b1 & 0b1111_1000 != SEED_PREFIX {
            return Err(format!("{encoded:?} is not a seed"));
        }
        let prefix = ((b1 & 0b0000_0111) << 5) | (b2 >> 3);
        let kind = KeyKind::from_prefix_byte(prefix)
            .ok_or_else(|| format!("seed {encoded:?} has unknown key type {prefix}"))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| format!("seed {encoded:?} is not 32 bytes"))?;
        Ok(NKey::from_raw_seed(kind, seed))
    }

    /// What this key identifies.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The encoded public key: `O…`, `A…` or `U…`, 56 characters.
    pub fn public_key(&self) -> String {
        let mut raw = Vec::with_capacity(35);
        raw.push(self.kind.prefix_byte());
        raw.extend_from_slice(&self.public);
        encode_checked(raw)
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn raw_public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The encoded seed: `SO…`, `SA…` or `SU…`, 58 characters. A secret: it signs as this key.
    pub fn seed(&self) -> String {
        let prefix = self.kind.prefix_byte();
        let mut raw = Vec::with_capacity(36);
        raw.push(SEED_PREFIX | (prefix >> 5));
        raw.push((prefix & 0b0001_1111) << 3);
        raw.extend_from_slice(&self.seed);
        encode_checked(raw)
    }

    /// The 64-byte Ed25519 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let pair = Ed25519KeyPair::from_seed_unchecked(&self.seed).expect("a 32-byte seed");
        pair.sign(msg).as_ref().to_vec()
    }

    /// The `sig` field of a `CONNECT`: base64url (no padding) of the signature of the server's
    /// `nonce` (its bytes as sent in `INFO`).
    pub fn sign_nonce(&self, nonce: &str) -> String {
        crate::auth::base64url(&self.sign(nonce.as_bytes()))
    }
}

/// Decodes an encoded public key (`O…`, `A…`, `U…`), checking its checksum and prefix; returns
/// its kind and raw Ed25519 key.
pub fn decode_public_key(encoded: &str) -> Result<(KeyKind, [u8; 32]), String> {
    let raw = decode_checked(encoded)?;
    let [prefix, key @ ..] = raw.as_slice() else {
        return Err(format!("public key {encoded:?} is empty"));
    };
    let kind = KeyKind::from_prefix_byte(*prefix)
        .ok_or_else(|| format!("{encoded:?} has unknown prefix byte {prefix}"))?;
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| format!("public key {encoded:?} is not 32 bytes"))?;
    Ok((kind, key))
}

/// Checks that `sig` is `public_key`'s (encoded, `O…`/`A…`/`U…`) Ed25519 signature of `msg`.
pub fn verify(public_key: &str, msg: &[u8], sig: &[u8]) -> Result<(), String> {
    let (_, key) = decode_public_key(public_key)?;
    UnparsedPublicKey::new(&ED25519, key)
        .verify(msg, sig)
        .map_err(|_| format!("bad signature for {public_key}"))
}

/// Appends the CRC-16 (little-endian) to `raw` and base32-encodes the result.
fn encode_checked(mut raw: Vec<u8>) -> String {
    let crc = crc16(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    base32_encode(&raw)
}

/// Base32-decodes `encoded`, checks and strips the trailing CRC-16.
fn decode_checked(encoded: &str) -> Result<Vec<u8>, String> {
    let mut raw = base32_decode(encoded)?;
    if raw.len() < 4 {
        return Err(format!("{encoded:?} is too short for an nkey"));
    }
    let split = raw.len() - 2;
    let stored = u16::from_le_bytes([raw[split], raw[split + 1]]);
    raw.truncate(split);
    let computed = crc16(&raw);
    if stored != computed {
        return Err(format!(
            "{encoded:?}: checksum mismatch (stored {stored:#06x}, computed {computed:#06x})"
        ));
    }
    Ok(raw)
}

/// CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection, no final XOR.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, no padding.
pub(crate) fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    for &byte in data {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[usize::from((buffer >> bits) & 31)],
            ));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[usize::from((buffer << (5 - bits)) & 31)],
        ));
    }
    out
}

/// RFC 4648 base32 without padding; rejects other characters, impossible lengths and non-zero
/// trailing bits.
pub(crate) fn base32_decode(text: &str) -> Result<Vec<u8>, String> {
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return Err(format!("{text:?}: impossible base32 length {}", text.len()));
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return Err(format!("{text:?}: {:?} is not base32", char::from(c))),
        };
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
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
    fn crc16_xmodem_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ];
        for (raw, text) in vectors {
            assert_eq!(base32_encode(raw), text);
            assert_eq!(base32_decode(text).unwrap(), raw);
        }
        assert!(base32_decode("MZ").is_err(), "trailing bits");
        assert!(base32_decode("M").is_err(), "length");
        assert!(base32_decode("mzxq").is_err(), "lower case");
    }

    #[test]
    fn prefixes_and_lengths() {
        for (kind, letter) in [
            (KeyKind::Operator, "O"),
            (KeyKind::Account, "A"),
            (KeyKind::User, "U"),
        ] {
            let key = NKey::new(kind);
            assert!(key.public_key().starts_with(letter));
            assert_eq!(key.public_key().len(), 56);
            assert!(key.seed().starts_with(&format!("S{letter}")));
            assert_eq!(key.seed().len(), 58);
            assert_eq!(NKey::from_seed(&key.seed()).unwrap(), key);
            assert_eq!(
                decode_public_key(&key.public_key()).unwrap(),
                (kind, key.raw_public_key())
            );
            let sig = key.sign(b"msg");
            verify(&key.public_key(), b"msg", &sig).unwrap();
            assert!(verify(&key.public_key(), b"other", &sig).is_err());
        }
    }

    #[test]
    fn debug_hides_the_seed() {
        let key = NKey::new_user();
        let text = format!("{key:?}");
        assert!(text.contains(&key.public_key()), "{text}");
        assert!(!text.contains(&key.seed()), "{text}");
    }
}
