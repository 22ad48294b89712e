//! Credentials: tokens, user/password, NKeys, user JWT + seed (`.creds` files), signing
//! callbacks, and the auth callback run on every connect.
//!
//! The connection layer keeps an [`Auth`] and, on every (re)connect, calls
//! [`Auth::fields`] with that connection's INFO `nonce` to get the
//! [`AuthFields`] to put into CONNECT. NKey and JWT auth sign the nonce afresh
//! each time (Ed25519 via `ring`).
//!
//! One home per codec: `nkey` (key pairs and their text form), `base32`, `base64` (public:
//! [`base64url_nopad`], [`base64_std_encode`], [`base64_std_decode`]), `creds` (`.creds` files).
//!
//! Secrets (seeds, passwords, tokens) never appear in `Debug` output or error
//! messages.

mod base32;
mod base64;
mod creds;
mod nkey;

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

pub use base64::{Base64Error, base64_std_decode, base64_std_encode, base64url_nopad};
pub use creds::{load_creds, parse_creds};
pub use nkey::{KeyKind, KeyPair, decode_public_key, sign_nonce};

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

/// What an auth callback ([`ConnectOptions::auth_callback`](crate::ConnectOptions::auth_callback))
/// is given on each connection attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthContext {
    /// The server being connected to, `host:port`.
    pub server: String,
    /// The `nonce` of this connection's INFO, to sign for nkey or JWT auth (absent when the
    /// server sends none).
    pub nonce: Option<String>,
}

/// A signing function: the Ed25519 signature of the bytes it is given (the server's nonce),
/// made by whatever holds the private key (a hardware module, a vault, another process), so
/// the seed need not be in this process. An error fails the connection attempt, which is
/// retried with backoff.
pub type SignFn = Arc<dyn Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync>;

/// The future an [`AuthCallback`] returns.
pub type AuthFuture = Pin<Box<dyn Future<Output = Result<AuthFields, String>> + Send>>;

/// A callback run on every connect and reconnect, returning the CONNECT's credentials for
/// that attempt (see [`ConnectOptions::auth_callback`](crate::ConnectOptions::auth_callback)).
pub type AuthCallback = Arc<dyn Fn(AuthContext) -> AuthFuture + Send + Sync>;

impl AuthFields {
    /// No credentials; add them with the `with_*` methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an auth token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// Adds a user name and password.
    pub fn with_user_and_password(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.user = Some(user.into());
        self.pass = Some(password.into());
        self
    }

    /// Adds a user JWT (sign the nonce too: [`AuthFields::with_signature`]).
    pub fn with_jwt(mut self, jwt: impl Into<String>) -> Self {
        self.jwt = Some(jwt.into());
        self
    }

    /// Adds a bare nkey's public key (`U…`; sign the nonce too).
    pub fn with_nkey(mut self, public_key: impl Into<String>) -> Self {
        self.nkey = Some(public_key.into());
        self
    }

    /// Adds the raw Ed25519 signature of the nonce (sent base64url-encoded as `sig`).
    pub fn with_signature(mut self, signature: &[u8]) -> Self {
        self.sig = Some(base64url_nopad(signature));
        self
    }

    /// Signs `nonce` with `key` and adds the signature.
    pub fn with_nonce_signed_by(mut self, key: &KeyPair, nonce: &str) -> Self {
        self.sig = Some(sign_nonce(key, nonce));
        self
    }

    /// Copies every field `other` sets over this one's.
    pub(crate) fn overlay(&mut self, other: AuthFields) {
        let AuthFields {
            user,
            pass,
            auth_token,
            nkey,
            sig,
            jwt,
        } = other;
        let keep = |mine: &mut Option<String>, theirs: Option<String>| {
            if theirs.is_some() {
                *mine = theirs;
            }
        };
        keep(&mut self.user, user);
        keep(&mut self.pass, pass);
        keep(&mut self.auth_token, auth_token);
        keep(&mut self.nkey, nkey);
        keep(&mut self.sig, sig);
        keep(&mut self.jwt, jwt);
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        *self == AuthFields::default()
    }

    /// Every string is one JSON string in CONNECT; control characters are refused so that a
    /// credential read from a file or a callback cannot smuggle anything odd into logs or the
    /// server. Returns the field's name on failure.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let fields = [
            ("user", &self.user),
            ("pass", &self.pass),
            ("auth_token", &self.auth_token),
            ("nkey", &self.nkey),
            ("sig", &self.sig),
            ("jwt", &self.jwt),
        ];
        for (name, value) in fields {
            if value
                .as_deref()
                .is_some_and(|v| v.chars().any(char::is_control))
            {
                return Err(name);
            }
        }
        Ok(())
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
    use super::base32::{base32_decode, base32_encode};
    use super::nkey::{PUBLIC_RAW_LEN, SEED_PREFIX, crc16, push_crc};
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
