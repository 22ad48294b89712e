//! Credentials: tokens, user/password, NKeys, user JWT + seed (`.creds` files).
//!
//! The connection layer keeps an [`Auth`] and, on every (re)connect, calls
//! [`Auth::fields`] with that connection's INFO `nonce` to get the
//! [`AuthFields`] to put into CONNECT. NKey and JWT auth sign the nonce afresh
//! each time (Ed25519 via `ring`).
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
//!
//! This module also holds the small base64 codecs the client needs (no base64
//! crate): [`base64url_nopad`] for the CONNECT `sig`, and
//! [`base64_std_encode`]/[`base64_std_decode`] (RFC 4648 standard alphabet, with
//! padding) for JetStream payloads such as message-get replies.
//!
//! Secrets (seeds, passwords, tokens) never appear in `Debug` output or error
//! messages.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ring::signature::{Ed25519KeyPair, KeyPair as _};

/// Why credentials could not be decoded or loaded.
///
/// Messages never contain seed material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The seed is not unpadded RFC 4648 base32.
    #[error("invalid nkey seed: not base32")]
    SeedEncoding,
    /// The seed decodes to the wrong number of bytes.
    #[error("invalid nkey seed: wrong length")]
    SeedLength,
    /// The seed's CRC-16 does not match its contents.
    #[error("invalid nkey seed: checksum mismatch")]
    SeedChecksum,
    /// The seed's prefix bytes are not `S` followed by a known key type.
    #[error("invalid nkey seed: unknown prefix (expected SU, SA, SO, SN or SC)")]
    SeedPrefix,
    /// A credentials file has no user JWT block.
    #[error("credentials: no user JWT found")]
    MissingJwt,
    /// The user JWT in a credentials file is not a three-part base64url token.
    #[error("credentials: the user JWT is malformed")]
    InvalidJwt,
    /// A credentials file has no nkey seed.
    #[error("credentials: no user nkey seed found")]
    MissingSeed,
    /// The seed in a credentials file is valid but not a user seed.
    #[error("credentials: the nkey seed is a {0:?} seed, a user seed (SU...) is required")]
    NotUserSeed(KeyKind),
    /// A credentials file could not be read.
    #[error("cannot read credentials file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

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

// ---------------------------------------------------------------------------
// NKeys
// ---------------------------------------------------------------------------

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
const SEED_PREFIX: u8 = 18 << 3;
const RAW_KEY_LEN: usize = 32;
/// Encoded public key: prefix + key + crc.
const PUBLIC_RAW_LEN: usize = 1 + RAW_KEY_LEN + 2;
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

/// Signs a server nonce for CONNECT: base64url (no padding) of the Ed25519
/// signature of the nonce's bytes.
pub fn sign_nonce(kp: &KeyPair, nonce: &str) -> String {
    base64url_nopad(&kp.sign(nonce.as_bytes()))
}

/// Appends the CRC-16/XMODEM of `raw`, little-endian.
fn push_crc(raw: &mut Vec<u8>) {
    let crc = crc16(raw);
    raw.extend_from_slice(&crc.to_le_bytes());
}

/// CRC-16/XMODEM: polynomial 0x1021, initial value 0, MSB first, no final xor.
fn crc16(data: &[u8]) -> u16 {
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

// ---------------------------------------------------------------------------
// base32 (RFC 4648 alphabet, unpadded), used for NKeys
// ---------------------------------------------------------------------------

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity((data.len() * 8).div_ceil(5));
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &byte in data {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32_ALPHABET[((acc >> bits) & 0x1f) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((acc << (5 - bits)) & 0x1f) as usize],
        ));
    }
    out
}

/// Strict unpadded decoding: upper-case alphabet only, a length some encoder
/// produces, and zero trailing bits. `None` on anything else.
fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in s.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 5 || acc != 0 {
        return None;
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// base64
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// .creds files
// ---------------------------------------------------------------------------

/// Parses the text of a NATS `.creds` file into the user JWT and the user key pair.
///
/// The file holds two decorated blocks, each opened by a line like
/// `-----BEGIN NATS USER JWT-----` and closed by `------END NATS USER JWT------`
/// (the second is `… USER NKEY SEED …`); the number of dashes varies and is
/// not checked, nor is the text between blocks. The JWT block is the one whose
/// label mentions `JWT` (else the first block not labelled as a seed); the seed
/// block is the one whose label mentions `SEED`, and failing that any line that
/// is a whole seed (`SU…`) is used. The seed must be a user seed.
pub fn parse_creds(text: &str) -> Result<(String, KeyPair), AuthError> {
    let blocks = decorated_blocks(text);
    let is_seed_label = |label: &str| label.contains("SEED");
    let jwt = blocks
        .iter()
        .find(|(label, _)| label.contains("JWT"))
        .or_else(|| blocks.iter().find(|(label, _)| !is_seed_label(label)))
        .map(|(_, body)| body.concat())
        .ok_or(AuthError::MissingJwt)?;
    if !is_jwt_shaped(&jwt) {
        return Err(AuthError::InvalidJwt);
    }
    let seed = blocks
        .iter()
        .find(|(label, _)| is_seed_label(label))
        .map(|(_, body)| body.concat())
        .or_else(|| {
            text.lines()
                .map(str::trim)
                .find(|line| line.len() == 58 && line.starts_with('S'))
                .map(str::to_owned)
        })
        .ok_or(AuthError::MissingSeed)?;
    let key = KeyPair::from_seed(&seed)?;
    if key.kind() != KeyKind::User {
        return Err(AuthError::NotUserSeed(key.kind()));
    }
    Ok((jwt, key))
}

/// Reads and parses a `.creds` file (see [`parse_creds`]).
pub fn load_creds(path: impl AsRef<Path>) -> Result<(String, KeyPair), AuthError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_creds(&text)
}

/// `(LABEL, trimmed non-empty lines)` of every complete `---BEGIN LABEL---` …
/// `---END …---` block, labels upper-cased.
fn decorated_blocks(text: &str) -> Vec<(String, Vec<&str>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, Vec<&str>)> = None;
    for line in text.lines() {
        let line = line.trim();
        match marker(line) {
            Some(Marker::Begin(label)) => open = Some((label, Vec::new())),
            Some(Marker::End) => {
                if let Some(block) = open.take() {
                    blocks.push(block);
                }
            }
            None => {
                if let Some((_, body)) = open.as_mut()
                    && !line.is_empty()
                {
                    body.push(line);
                }
            }
        }
    }
    blocks
}

enum Marker {
    Begin(String),
    End,
}

/// A line of three or more dashes, `BEGIN label` or `END label`, three or more dashes.
fn marker(line: &str) -> Option<Marker> {
    if line.len() < 6 || !line.starts_with("---") || !line.ends_with("---") {
        return None;
    }
    let inner = line.trim_matches('-').trim().to_ascii_uppercase();
    if let Some(label) = inner.strip_prefix("BEGIN") {
        Some(Marker::Begin(label.trim().to_owned()))
    } else if inner.starts_with("END") {
        Some(Marker::End)
    } else {
        None
    }
}

/// Three non-empty base64url segments separated by dots (padding tolerated).
fn is_jwt_shaped(jwt: &str) -> bool {
    let segments: Vec<&str> = jwt.split('.').collect();
    segments.len() == 3
        && segments.iter().all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
        })
}

// ---------------------------------------------------------------------------
// Auth
// ---------------------------------------------------------------------------

/// How a connection authenticates. `Debug` hides every secret.
#[derive(Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// An auth token (`auth_token`).
    Token(String),
    /// User name and password (`user`, `pass`).
    UserPassword {
        /// User name.
        user: String,
        /// Password.
        pass: String,
    },
    /// A bare NKey: sends the public key (`nkey`) and the signed nonce (`sig`).
    NKey(KeyPair),
    /// A user JWT with its key pair, as from a `.creds` file: sends `jwt` and `sig`.
    Jwt {
        /// The user JWT.
        jwt: String,
        /// The user key pair that signs the nonce.
        key: KeyPair,
    },
}

/// The authentication fields of a CONNECT, ready to copy into the protocol's
/// `Connect` struct. `Debug` hides `pass` and `auth_token`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthFields {
    /// `user`.
    pub user: Option<String>,
    /// `pass`.
    pub pass: Option<String>,
    /// `auth_token`.
    pub auth_token: Option<String>,
    /// `nkey`: the public NKey (bare NKey auth only).
    pub nkey: Option<String>,
    /// `sig`: base64url (unpadded) Ed25519 signature of the server's nonce.
    pub sig: Option<String>,
    /// `jwt`: the user JWT.
    pub jwt: Option<String>,
}

impl Auth {
    /// JWT auth from the text of a `.creds` file.
    pub fn from_creds(text: &str) -> Result<Auth, AuthError> {
        let (jwt, key) = parse_creds(text)?;
        Ok(Auth::Jwt { jwt, key })
    }

    /// JWT auth from a `.creds` file on disk.
    pub fn from_creds_file(path: impl AsRef<Path>) -> Result<Auth, AuthError> {
        let (jwt, key) = load_creds(path)?;
        Ok(Auth::Jwt { jwt, key })
    }

    /// Bare NKey auth from an encoded seed (`SU…`).
    pub fn from_nkey_seed(seed: &str) -> Result<Auth, AuthError> {
        KeyPair::from_seed(seed).map(Auth::NKey)
    }

    /// Whether this method signs the server's nonce (NKey and JWT); such a
    /// server sends a `nonce` in INFO.
    pub fn signs_nonce(&self) -> bool {
        matches!(self, Auth::NKey(_) | Auth::Jwt { .. })
    }

    /// The CONNECT fields for one connection attempt. `nonce` is that
    /// connection's INFO `nonce`; NKey and JWT auth sign it (no `sig` without one).
    pub fn fields(&self, nonce: Option<&str>) -> AuthFields {
        let sig = |key: &KeyPair| nonce.map(|nonce| sign_nonce(key, nonce));
        match self {
            Auth::None => AuthFields::default(),
            Auth::Token(token) => AuthFields {
                auth_token: Some(token.clone()),
                ..AuthFields::default()
            },
            Auth::UserPassword { user, pass } => AuthFields {
                user: Some(user.clone()),
                pass: Some(pass.clone()),
                ..AuthFields::default()
            },
            Auth::NKey(key) => AuthFields {
                nkey: Some(key.public_key()),
                sig: sig(key),
                ..AuthFields::default()
            },
            Auth::Jwt { jwt, key } => AuthFields {
                jwt: Some(jwt.clone()),
                sig: sig(key),
                ..AuthFields::default()
            },
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Token(_) => f.write_str("Token(<redacted>)"),
            Auth::UserPassword { user, .. } => f
                .debug_struct("UserPassword")
                .field("user", user)
                .field("pass", &"<redacted>")
                .finish(),
            Auth::NKey(key) => f.debug_tuple("NKey").field(&key.public_key()).finish(),
            Auth::Jwt { key, .. } => f
                .debug_struct("Jwt")
                .field("jwt", &"<redacted>")
                .field("key", &key.public_key())
                .finish(),
        }
    }
}

impl fmt::Debug for AuthFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("AuthFields")
            .field("user", &self.user)
            .field("pass", &hidden(&self.pass))
            .field("auth_token", &hidden(&self.auth_token))
            .field("nkey", &self.nkey)
            .field("sig", &self.sig)
            .field("jwt", &hidden(&self.jwt))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ED25519, UnparsedPublicKey};

    /// A published cross-client test fixture (the nkeys/nats.py/nats.rb test
    /// suites use it): seed, its public key, and the standard-base64 signature of
    /// the nonce `PXoWU7zWAMt75FY` (Ed25519 signatures are deterministic).
    const FIXTURE_SEED: &str = "SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU";
    const FIXTURE_PUBLIC: &str = "UCK5N7N66OBOINFXAYC2ACJQYFSOD4VYNU6APEJTAVFZB2SVHLKGEW7L";
    const FIXTURE_NONCE: &str = "PXoWU7zWAMt75FY";
    const FIXTURE_SIG_STD: &str =
        "ZaAiVDgB5CeYoXoQ7cBCmq+ZllzUnGUoDVb8C7PilWvCs8XKfUchAUhz2P4BYAF++Dg3w05CqyQFRDiGL6LrDw==";

    const RAW_SEED: [u8; 32] = [
        0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c,
        0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae,
        0x7f, 0x60,
    ];

    fn verify(public: &[u8], msg: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, public)
            .verify(msg, sig)
            .is_ok()
    }

    #[test]
    fn crc16_xmodem_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn base32_rfc4648_vectors() {
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
            assert_eq!(base32_decode(text).as_deref(), Some(raw));
        }
        assert_eq!(base32_decode("M"), None); // impossible length
        assert_eq!(base32_decode("MZX"), None); // impossible length
        assert_eq!(base32_decode("MZ"), None); // non-zero trailing bits
        assert_eq!(base32_decode("my"), None); // lower case
        assert_eq!(base32_decode("MY=="), None); // padding
    }

    #[test]
    fn base64_rfc4648_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (raw, text) in vectors {
            assert_eq!(base64_std_encode(raw), text);
            assert_eq!(base64_std_decode(text).unwrap(), raw);
            let unpadded = text.trim_end_matches('=');
            assert_eq!(base64url_nopad(raw), unpadded);
            assert_eq!(base64_std_decode(unpadded).unwrap(), raw);
        }
        assert_eq!(base64url_nopad(&[0xfb, 0xff, 0xbf]), "-_-_");
        assert_eq!(base64_std_encode(&[0xfb, 0xff, 0xbf]), "+/+/");
        assert_eq!(base64_std_decode("+/+/").unwrap(), [0xfb, 0xff, 0xbf]);
        assert_eq!(
            base64_std_decode("-_-_"),
            Err(Base64Error::InvalidByte {
                index: 0,
                byte: b'-'
            })
        );
        assert_eq!(base64_std_decode("Zg="), Err(Base64Error::InvalidLength));
        assert_eq!(base64_std_decode("Z==="), Err(Base64Error::InvalidLength));
        assert_eq!(base64_std_decode("Zm9vY"), Err(Base64Error::InvalidLength));
        assert!(matches!(
            base64_std_decode("Zg==Zg=="),
            Err(Base64Error::InvalidByte { index: 2, .. })
        ));
        assert!(base64_std_decode("Zm9v\n").is_err());
        for len in 0..40u8 {
            let data: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
            assert_eq!(base64_std_decode(&base64_std_encode(&data)).unwrap(), data);
        }
    }

    #[test]
    fn fixture_known_answer() {
        let kp = KeyPair::from_seed(FIXTURE_SEED).unwrap();
        assert_eq!(kp.kind(), KeyKind::User);
        assert_eq!(kp.public_key(), FIXTURE_PUBLIC);
        assert_eq!(kp.seed(), FIXTURE_SEED);
        let sig = kp.sign(FIXTURE_NONCE.as_bytes());
        assert_eq!(base64_std_encode(&sig), FIXTURE_SIG_STD);
        assert_eq!(
            sign_nonce(&kp, FIXTURE_NONCE),
            FIXTURE_SIG_STD
                .trim_end_matches('=')
                .replace('+', "-")
                .replace('/', "_")
        );
    }

    #[test]
    fn raw_seed_known_answer() {
        let kp = KeyPair::new_user_from_raw_seed(RAW_SEED);
        let public = kp.public_key();
        assert_eq!(public.len(), 56);
        assert!(public.starts_with('U'));
        // The public key decodes to prefix | raw key | valid crc.
        let raw = base32_decode(&public).unwrap();
        assert_eq!(raw.len(), PUBLIC_RAW_LEN);
        assert_eq!(raw[0], 20 << 3);
        assert_eq!(&raw[1..33], kp.public_key_bytes());
        assert_eq!(crc16(&raw[..33]).to_le_bytes(), [raw[33], raw[34]]);
        // RFC 8032 test 1 uses this secret key; its public key is d75a9801…511a.
        assert_eq!(kp.public_key_bytes()[..4], [0xd7, 0x5a, 0x98, 0x01]);
        assert_eq!(kp.public_key_bytes()[28..], [0xf7, 0x07, 0x51, 0x1a]);

        let sig = kp.sign(b"hello nonce");
        assert_eq!(sig.len(), 64);
        assert!(verify(&kp.public_key_bytes(), b"hello nonce", &sig));
        assert!(!verify(&kp.public_key_bytes(), b"hello nonc3", &sig));
        let signed = sign_nonce(&kp, "hello nonce");
        assert_eq!(signed.len(), 86);
        assert!(!signed.contains(['=', '+', '/']));
    }

    #[test]
    fn seed_round_trip_every_kind() {
        let cases = [
            (KeyKind::User, "SU", 'U'),
            (KeyKind::Account, "SA", 'A'),
            (KeyKind::Operator, "SO", 'O'),
            (KeyKind::Server, "SN", 'N'),
            (KeyKind::Cluster, "SC", 'C'),
        ];
        for (kind, seed_prefix, public_prefix) in cases {
            let kp = KeyPair::from_raw_seed(kind, RAW_SEED);
            let seed = kp.seed();
            assert_eq!(seed.len(), 58);
            assert!(seed.starts_with(seed_prefix), "{seed}");
            assert!(kp.public_key().starts_with(public_prefix));
            let back = KeyPair::from_seed(&format!("  {seed}\n")).unwrap();
            assert_eq!(back.kind(), kind);
            assert_eq!(back.public_key(), kp.public_key());
            assert_eq!(back.seed(), seed);
        }
    }

    #[test]
    fn corrupted_seeds_are_rejected() {
        let seed = KeyPair::new_user_from_raw_seed(RAW_SEED).seed();
        // Flip one character in the key material: CRC mismatch.
        let mut chars: Vec<char> = seed.chars().collect();
        chars[20] = if chars[20] == 'A' { 'B' } else { 'A' };
        let corrupted: String = chars.into_iter().collect();
        assert!(matches!(
            KeyPair::from_seed(&corrupted),
            Err(AuthError::SeedChecksum)
        ));
        assert!(matches!(
            KeyPair::from_seed(&seed[..57]),
            Err(AuthError::SeedEncoding)
        ));
        assert!(matches!(
            KeyPair::from_seed(&seed[..56]),
            Err(AuthError::SeedLength)
        ));
        assert!(matches!(
            KeyPair::from_seed(&seed.to_lowercase()),
            Err(AuthError::SeedEncoding)
        ));
        assert!(matches!(KeyPair::from_seed(""), Err(AuthError::SeedLength)));
        // A public key is not a seed (wrong length); a well-formed blob with a
        // bad prefix (and a correct CRC) is a prefix error.
        assert!(matches!(
            KeyPair::from_seed(FIXTURE_PUBLIC),
            Err(AuthError::SeedLength)
        ));
        let mut raw = vec![20 << 3, 0];
        raw.extend_from_slice(&RAW_SEED);
        push_crc(&mut raw);
        assert!(matches!(
            KeyPair::from_seed(&base32_encode(&raw)),
            Err(AuthError::SeedPrefix)
        ));
        // 'S' marker with an unknown type ('X' curve keys are not Ed25519).
        let x = 23u8 << 3;
        let mut raw = vec![SEED_PREFIX | (x >> 5), (x & 0x1f) << 3];
        raw.extend_from_slice(&RAW_SEED);
        push_crc(&mut raw);
        let encoded = base32_encode(&raw);
        assert!(encoded.starts_with("SX"));
        assert!(matches!(
            KeyPair::from_seed(&encoded),
            Err(AuthError::SeedPrefix)
        ));
    }

    #[test]
    fn debug_hides_secrets() {
        let kp = KeyPair::from_seed(FIXTURE_SEED).unwrap();
        let debug = format!("{kp:?}");
        assert!(
            debug.contains(FIXTURE_PUBLIC) && !debug.contains(FIXTURE_SEED),
            "{debug}"
        );
        let auth = Auth::Jwt {
            jwt: "a.b.c".into(),
            key: kp.clone(),
        };
        assert!(!format!("{auth:?}").contains(FIXTURE_SEED));
        let auth = Auth::UserPassword {
            user: "derek".into(),
            pass: "hunter2".into(),
        };
        let debug = format!("{auth:?}");
        assert!(
            debug.contains("derek") && !debug.contains("hunter2"),
            "{debug}"
        );
        let debug = format!("{:?}", Auth::Token("s3cret".into()));
        assert!(!debug.contains("s3cret"));
        let fields = auth.fields(None);
        let debug = format!("{fields:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    const JWT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2lnbmF0dXJl";

    fn creds_file(jwt: &str, seed: &str, dashes: usize) -> String {
        let d = "-".repeat(dashes);
        format!(
            "{d}BEGIN NATS USER JWT{d}\n{jwt}\n-{d}END NATS USER JWT-{d}\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             {d}BEGIN USER NKEY SEED{d}\n{seed}\n-{d}END USER NKEY SEED-{d}\n\n\
             *************************************************************\n"
        )
    }

    #[test]
    fn creds_parsing() {
        let kp = KeyPair::new_user_from_raw_seed(RAW_SEED);
        for dashes in [3, 5, 6] {
            let text = creds_file(JWT, &kp.seed(), dashes);
            let (jwt, key) = parse_creds(&text).unwrap();
            assert_eq!(jwt, JWT);
            assert_eq!(key.public_key(), kp.public_key());
            // CRLF line endings and indentation are tolerated.
            let crlf = text.replace('\n', "\r\n    ");
            let (jwt, key) = parse_creds(&crlf).unwrap();
            assert_eq!(jwt, JWT);
            assert_eq!(key.public_key(), kp.public_key());
        }
        // Seed outside a block is still found.
        let text = format!(
            "-----BEGIN NATS USER JWT-----\n{JWT}\n------END NATS USER JWT------\n{}\n",
            kp.seed()
        );
        assert_eq!(parse_creds(&text).unwrap().1.public_key(), kp.public_key());

        let auth = Auth::from_creds(&creds_file(JWT, &kp.seed(), 5)).unwrap();
        let fields = auth.fields(Some("nonce-1"));
        assert_eq!(fields.jwt.as_deref(), Some(JWT));
        assert_eq!(fields.nkey, None);
        let sig = base64_url_decode_for_test(fields.sig.as_deref().unwrap());
        assert!(verify(&kp.public_key_bytes(), b"nonce-1", &sig));
    }

    #[test]
    fn creds_errors() {
        let kp = KeyPair::new_user_from_raw_seed(RAW_SEED);
        assert!(matches!(parse_creds(""), Err(AuthError::MissingJwt)));
        let only_seed = format!(
            "-----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
            kp.seed()
        );
        assert!(matches!(
            parse_creds(&only_seed),
            Err(AuthError::MissingJwt)
        ));
        let no_seed = "-----BEGIN NATS USER JWT-----\na.b.c\n------END NATS USER JWT------\n";
        assert!(matches!(parse_creds(no_seed), Err(AuthError::MissingSeed)));
        let bad_jwt = creds_file("not a jwt", &kp.seed(), 5);
        assert!(matches!(parse_creds(&bad_jwt), Err(AuthError::InvalidJwt)));
        let account = KeyPair::from_raw_seed(KeyKind::Account, RAW_SEED).seed();
        assert!(matches!(
            parse_creds(&creds_file(JWT, &account, 5)),
            Err(AuthError::NotUserSeed(KeyKind::Account))
        ));
        let mut corrupted = kp.seed();
        corrupted.replace_range(10..11, if &corrupted[10..11] == "Q" { "R" } else { "Q" });
        let err = parse_creds(&creds_file(JWT, &corrupted, 5)).unwrap_err();
        assert!(matches!(err, AuthError::SeedChecksum));
        assert!(!err.to_string().contains(&corrupted));
        let err = load_creds("/nonexistent/gnat/user.creds").unwrap_err();
        assert!(matches!(err, AuthError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/gnat/user.creds"));
    }

    #[test]
    fn load_creds_from_disk() {
        let kp = KeyPair::new_user_from_raw_seed(RAW_SEED);
        let path = std::env::temp_dir().join(format!(
            "gnat-auth-test-{}-{:?}.creds",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, creds_file(JWT, &kp.seed(), 6)).unwrap();
        let result = Auth::from_creds_file(&path);
        std::fs::remove_file(&path).unwrap();
        let Auth::Jwt { jwt, key } = result.unwrap() else {
            panic!("expected JWT auth");
        };
        assert_eq!(jwt, JWT);
        assert_eq!(key.public_key(), kp.public_key());
    }

    #[test]
    fn fields_per_method() {
        assert_eq!(Auth::None.fields(Some("n")), AuthFields::default());
        assert!(!Auth::None.signs_nonce());
        let f = Auth::Token("tok".into()).fields(Some("n"));
        assert_eq!(f.auth_token.as_deref(), Some("tok"));
        assert_eq!((f.user, f.sig), (None, None));
        let f = Auth::UserPassword {
            user: "u".into(),
            pass: "p".into(),
        }
        .fields(None);
        assert_eq!(
            (f.user.as_deref(), f.pass.as_deref()),
            (Some("u"), Some("p"))
        );

        let auth = Auth::from_nkey_seed(FIXTURE_SEED).unwrap();
        assert!(auth.signs_nonce());
        let f = auth.fields(Some(FIXTURE_NONCE));
        assert_eq!(f.nkey.as_deref(), Some(FIXTURE_PUBLIC));
        assert_eq!(f.jwt, None);
        let sig = base64_url_decode_for_test(f.sig.as_deref().unwrap());
        assert_eq!(base64_std_encode(&sig), FIXTURE_SIG_STD);
        // A fresh nonce gives a fresh signature; no nonce gives none.
        assert_ne!(auth.fields(Some("other")).sig, f.sig);
        assert_eq!(auth.fields(None).sig, None);
    }

    fn base64_url_decode_for_test(s: &str) -> Vec<u8> {
        base64_std_decode(&s.replace('-', "+").replace('_', "/")).unwrap()
    }
}
