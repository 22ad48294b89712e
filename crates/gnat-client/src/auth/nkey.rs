//! NKeys: Ed25519 key pairs and their text encoding (seeds `S…`, public keys `U…`/`A…`/…),
//! with the CRC-16 checksum they carry.
//!
//! NKey text encoding (verified against the `nats-io/nkeys` Go sources):
//!
//! * a public key is RFC 4648 base32, unpadded, of
//!   `[prefix | 32-byte Ed25519 public key | crc16 LE]`, 35 bytes → 56 chars;
//!   prefix bytes are the base32 value of the type letter shifted left by 3
//!   (`U` user = 20<<3, `A` account = 0, `O` operator = 14<<3, `N` server = 13<<3,
//!   `C` cluster = 2<<3), so the text starts with that letter;
//! * a seed is base32 of `[b1 | b2 | 32-byte Ed25519 seed | crc16 LE]`, 36 bytes →
//!   58 chars, where `b1 = (18<<3) | (prefix >> 5)` and `b2 = (prefix & 31) << 3`,
//!   so the text starts with `S` followed by the type letter (`SU…`);
//! * the checksum is CRC-16/XMODEM (poly 0x1021, init 0, no reflection) over all
//!   preceding bytes, stored little-endian.

use std::fmt;
use std::sync::Arc;

use ring::signature::{Ed25519KeyPair, KeyPair as _};

use super::AuthError;
use super::base32::{base32_decode, base32_encode};
use super::base64::base64url_nopad;

/// The kind of entity an NKey identifies (the letter its public key starts with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// `O…`: an operator.
    Operator,
    /// `A…`: an account.
    Account,
    /// `U…`: a user (the kind clients authenticate with).
    User,
    /// `N…`: a server.
    Server,
    /// `C…`: a cluster.
    Cluster,
}

/// The seed marker: base32 value of 'S' (18) shifted into the top five bits.
pub(crate) const SEED_PREFIX: u8 = 18 << 3;
const RAW_KEY_LEN: usize = 32;
/// Encoded public key: prefix + key + crc.
pub(crate) const PUBLIC_RAW_LEN: usize = 1 + RAW_KEY_LEN + 2;
/// Encoded seed: two prefix bytes + seed + crc.
const SEED_RAW_LEN: usize = 2 + RAW_KEY_LEN + 2;

impl KeyKind {
    /// The public-key prefix byte: the type letter's base32 value shifted left by 3.
    fn prefix_byte(self) -> u8 {
        match self {
            KeyKind::Operator => 14 << 3,
            KeyKind::Account => 0,
            KeyKind::User => 20 << 3,
            KeyKind::Server => 13 << 3,
            KeyKind::Cluster => 2 << 3,
        }
    }

    fn from_prefix_byte(b: u8) -> Option<KeyKind> {
        [
            KeyKind::Operator,
            KeyKind::Account,
            KeyKind::User,
            KeyKind::Server,
            KeyKind::Cluster,
        ]
        .into_iter()
        .find(|kind| kind.prefix_byte() == b)
    }
}

/// An Ed25519 NKey pair decoded from a seed (`SU…`), able to sign nonces.
///
/// Cloning is cheap (the ring key pair is shared). `Debug` shows the kind and
/// the public key, never the seed.
#[derive(Clone)]
pub struct KeyPair {
    kind: KeyKind,
    seed: [u8; RAW_KEY_LEN],
    signer: Arc<Ed25519KeyPair>,
}

impl KeyPair {
    /// Decodes an encoded seed (`SU…`, `SA…`, `SO…`, `SN…`, `SC…`), checking its
    /// base32, length, CRC-16 and prefix. Surrounding whitespace is ignored.
    pub fn from_seed(seed: &str) -> Result<KeyPair, AuthError> {
        let raw = base32_decode(seed.trim()).ok_or(AuthError::SeedEncoding)?;
        if raw.len() != SEED_RAW_LEN {
            return Err(AuthError::SeedLength);
        }
        let (body, crc) = raw.split_at(SEED_RAW_LEN - 2);
        if crc16(body) != u16::from_le_bytes([crc[0], crc[1]]) {
            return Err(AuthError::SeedChecksum);
        }
        if body[0] & 0xf8 != SEED_PREFIX {
            return Err(AuthError::SeedPrefix);
        }
        let type_byte = ((body[0] & 0x07) << 5) | (body[1] >> 3);
        let kind = KeyKind::from_prefix_byte(type_byte).ok_or(AuthError::SeedPrefix)?;
        let mut key = [0u8; RAW_KEY_LEN];
        key.copy_from_slice(&body[2..]);
        Ok(KeyPair::from_raw_seed(kind, key))
    }

    /// A user key pair from a raw 32-byte Ed25519 seed (for tests and tools).
    pub fn new_user_from_raw_seed(seed: [u8; 32]) -> KeyPair {
        KeyPair::from_raw_seed(KeyKind::User, seed)
    }

    /// A key pair of the given kind from a raw 32-byte Ed25519 seed.
    pub fn from_raw_seed(kind: KeyKind, seed: [u8; 32]) -> KeyPair {
        // `from_seed_unchecked` only rejects seeds of the wrong length, and ours is 32 bytes.
        let signer = Ed25519KeyPair::from_seed_unchecked(&seed)
            .expect("a 32-byte Ed25519 seed is always accepted");
        KeyPair {
            kind,
            seed,
            signer: Arc::new(signer),
        }
    }

    /// What the key identifies (a user for client credentials).
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The encoded public key (`U…` for a user, 56 characters).
    pub fn public_key(&self) -> String {
        let mut raw = Vec::with_capacity(PUBLIC_RAW_LEN);
        raw.push(self.kind.prefix_byte());
        raw.extend_from_slice(self.signer.public_key().as_ref());
        push_crc(&mut raw);
        base32_encode(&raw)
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        let mut key = [0u8; RAW_KEY_LEN];
        key.copy_from_slice(self.signer.public_key().as_ref());
        key
    }

    /// The encoded seed (`SU…`, 58 characters). This is the secret: handle with care.
    pub fn seed(&self) -> String {
        let prefix = self.kind.prefix_byte();
        let mut raw = Vec::with_capacity(SEED_RAW_LEN);
        raw.push(SEED_PREFIX | (prefix >> 5));
        raw.push((prefix & 0x1f) << 3);
        raw.extend_from_slice(&self.seed);
        push_crc(&mut raw);
        base32_encode(&raw)
    }

    /// The 64-byte Ed25519 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.signer.sign(msg).as_ref().to_vec()
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("kind", &self.kind)
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// Decodes an encoded public key (`U…`, `A…`, …), checking its base32, length, CRC-16 and
/// prefix: its kind and the raw Ed25519 public key.
pub fn decode_public_key(text: &str) -> Result<(KeyKind, [u8; 32]), AuthError> {
    let raw = base32_decode(text.trim()).ok_or(AuthError::SeedEncoding)?;
    if raw.len() != PUBLIC_RAW_LEN {
        return Err(AuthError::SeedLength);
    }
    let (body, crc) = raw.split_at(PUBLIC_RAW_LEN - 2);
    if crc16(body) != u16::from_le_bytes([crc[0], crc[1]]) {
        return Err(AuthError::SeedChecksum);
    }
    let kind = KeyKind::from_prefix_byte(body[0]).ok_or(AuthError::SeedPrefix)?;
    let mut key = [0u8; RAW_KEY_LEN];
    key.copy_from_slice(&body[1..]);
    Ok((kind, key))
}

/// Signs a server nonce for CONNECT: base64url (no padding) of the Ed25519
/// signature of the nonce's bytes.
pub fn sign_nonce(kp: &KeyPair, nonce: &str) -> String {
    base64url_nopad(&kp.sign(nonce.as_bytes()))
}

/// Appends the CRC-16/XMODEM of `raw`, little-endian.
pub(crate) fn push_crc(raw: &mut Vec<u8>) {
    let crc = crc16(raw);
    raw.extend_from_slice(&crc.to_le_bytes());
}

/// CRC-16/XMODEM: polynomial 0x1021, initial value 0, MSB first, no final xor.
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
