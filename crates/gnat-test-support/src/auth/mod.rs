//! Decentralized-auth material generated at test time: nkeys, operator/account/user JWTs, creds
//! files, and the server config that trusts them.
//!
//! Two ways a server authenticates with nkeys:
//!
//! - **Plain nkeys** ([`NkeyUsers`]): the config lists user public keys
//!   (`authorization { users: [ {nkey: U…} ] }`); the client sends `nkey` and `sig` (its signature
//!   of the `nonce` from `INFO`) in `CONNECT`.
//! - **JWTs** ([`DecentralizedAuth`]): operator mode. The server trusts an operator JWT; account
//!   JWTs signed by the operator are preloaded (`resolver: MEMORY`); a user presents its JWT,
//!   signed by its account, as `jwt` in `CONNECT`, with `sig` as above. A creds file
//!   ([`User::creds`]) holds the user JWT and seed.
//!
//! Nothing here is checked into git: every key comes from the system random source when a test
//! runs. Nothing here speaks NATS; the tests bring their own client.
//!
//! ```no_run
//! use gnat_test_support::{NatsServer, auth::DecentralizedAuth};
//! let auth = DecentralizedAuth::new(2);
//! let server = NatsServer::builder()
//!     .jetstream(true)
//!     .config(auth.server_config())
//!     .start();
//! let creds = auth.users[0].write_creds(std::path::Path::new("/tmp"));
//! ```
//!
//! # Layout
//!
//! - `nkey.rs`: [`NKey`] and [`KeyKind`]; base32, CRC-16, the public key and seed encodings.
//! - `jwt.rs`: [`encode_jwt`], [`decode_jwt`], base64url.
//! - this file: [`Operator`], [`Account`], [`User`], [`DecentralizedAuth`], [`NkeyUsers`] and
//!   the config text.

mod jwt;
mod nkey;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

pub use jwt::{JWT_HEADER, base64url, base64url_decode, decode_jwt, encode_jwt};
pub use nkey::{KeyKind, NKey, decode_public_key, verify};

use crate::config::quote;

/// An operator: its key, its self-signed JWT, and the system account it names.
#[derive(Clone, Debug)]
pub struct Operator {
    /// The operator's key (`O…`); signs account JWTs.
    pub key: NKey,
    /// The operator JWT (self-signed; `nats.system_account` names [`system_account`]).
    ///
    /// [`system_account`]: Self::system_account
    pub jwt: String,
    /// The system account (`SYS`, no JetStream), signed by this operator.
    pub system_account: Account,
}

/// An account: its key and its JWT, signed by an operator.
#[derive(Clone, Debug)]
pub struct Account {
    /// The account's key (`A…`); signs user JWTs.
    pub key: NKey,
    /// The account JWT, signed by the operator.
    pub jwt: String,
    name: String,
    jetstream: bool,
}

/// A user: its key and its JWT, signed by an account.
#[derive(Clone, Debug)]
pub struct User {
    /// The user's key (`U…`); signs the server's nonce.
    pub key: NKey,
    /// The user JWT, signed by the account.
    pub jwt: String,
}

impl Operator {
    /// A new operator named `name`, with a new system account `SYS`.
    pub fn new(name: &str) -> Operator {
        let key = NKey::new_operator();
        let system_account = Account::signed(&key, NKey::new_account(), "SYS", false, &[]);
        let jwt = encode_jwt(
            &key,
            &key.public_key(),
            name,
            json!({
                "type": "operator",
                "version": 2,
                "system_account": system_account.key.public_key(),
            }),
        );
        Operator {
            key,
            jwt,
            system_account,
        }
    }

    /// A new account signed by this operator. With `jetstream`, its limits enable JetStream
    /// (unlimited memory and disk storage, streams and consumers); the server needs JetStream
    /// on too.
    pub fn new_account(&self, name: &str, jetstream: bool) -> Account {
        Account::signed(&self.key, NKey::new_account(), name, jetstream, &[])
    }

    /// `account` re-signed by this operator with `nats.revocations` revoking every user in
    /// `revoked` as of now (which covers every JWT issued to them so far: the server refuses a
    /// user JWT whose `iat` is at or before the revocation time).
    pub fn reissue_account(&self, account: &Account, revoked: &[&User]) -> Account {
        let keys: Vec<String> = revoked.iter().map(|u| u.key.public_key()).collect();
        Account::signed(
            &self.key,
            account.key.clone(),
            &account.name,
            account.jetstream,
            &keys,
        )
    }

    /// Server config text trusting this operator, with its system account and `accounts`
    /// preloaded into the memory resolver:
    ///
    /// ```text
    /// operator: "<operator JWT>"
    /// system_account: "<system account public key>"
    /// resolver: MEMORY
    /// resolver_preload: {
    ///   "<account public key>": "<account JWT>"
    /// }
    /// ```
    ///
    /// An account missing from the preload is unknown to the server: its users are refused.
    pub fn server_config(&self, accounts: &[&Account]) -> String {
        let sys = &self.system_account;
        let mut c = String::new();
        // `write!` into a String cannot fail.
        let _ = writeln!(c, "operator: {}", quote(&self.jwt));
        let _ = writeln!(c, "system_account: {}", quote(&sys.key.public_key()));
        c.push_str("resolver: MEMORY\nresolver_preload: {\n");
        for account in std::iter::once(&sys).chain(accounts) {
            let _ = writeln!(
                c,
                "  {}: {}",
                quote(&account.key.public_key()),
                quote(&account.jwt)
            );
        }
        c.push_str("}\n");
        c
    }
}

impl Account {
    fn signed(
        operator: &NKey,
        key: NKey,
        name: &str,
        jetstream: bool,
        revoked: &[String],
    ) -> Account {
        let mut limits = json!({
            "subs": -1, "data": -1, "payload": -1,
            "imports": -1, "exports": -1, "wildcards": true,
            "conn": -1, "leaf": -1,
        });
        if jetstream {
            for field in ["mem_storage", "disk_storage", "streams", "consumer"] {
                limits[field] = json!(-1);
            }
        }
        let mut nats = json!({
            "type": "account",
            "version": 2,
            "limits": limits,
            "default_permissions": {"pub": {}, "sub": {}},
        });
        if !revoked.is_empty() {
            let now = jwt::unix_now();
            let revocations: Map<String, Value> =
                revoked.iter().map(|k| (k.clone(), json!(now))).collect();
            nats["revocations"] = Value::Object(revocations);
        }
        let jwt = encode_jwt(operator, &key.public_key(), name, nats);
        Account {
            key,
            jwt,
            name: name.to_owned(),
            jetstream,
        }
    }

    /// The account's name (the JWT's `name` claim).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the account's limits enable JetStream.
    pub fn jetstream(&self) -> bool {
        self.jetstream
    }

    /// A new user signed by this account, with no permission restrictions and unlimited
    /// subscriptions, data and payload.
    pub fn new_user(&self, name: &str) -> User {
        let key = NKey::new_user();
        let jwt = encode_jwt(
            &self.key,
            &key.public_key(),
            name,
            json!({
                "type": "user",
                "version": 2,
                "pub": {},
                "sub": {},
                "subs": -1,
                "data": -1,
                "payload": -1,
            }),
        );
        User { key, jwt }
    }
}

impl User {
    /// The creds file text: the JWT and the seed, each between the `-----BEGIN …-----` and
    /// `------END …------` lines the NATS tools write (five dashes around BEGIN, six around END).
    pub fn creds(&self) -> String {
        format!(
            "-----BEGIN NATS USER JWT-----\n{}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n",
            self.jwt,
            self.key.seed()
        )
    }

    /// Writes [`creds`](Self::creds) to `<dir>/<user public key>.creds` and returns the path.
    ///
    /// # Panics
    ///
    /// If the file cannot be written.
    pub fn write_creds(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}.creds", self.key.public_key()));
        std::fs::write(&path, self.creds())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }
}

/// A complete operator-mode setup: an operator (with its system account), one account signed by
/// it with JetStream enabled, and users signed by that account.
#[derive(Clone, Debug)]
pub struct DecentralizedAuth {
    /// The operator, with the system account.
    pub operator: Operator,
    /// The account the users belong to (`gnat`, JetStream enabled).
    pub account: Account,
    /// Users of [`account`](Self::account), named `user-0`, `user-1`, …
    pub users: Vec<User>,
}

impl DecentralizedAuth {
    /// A new operator, system account, account `gnat` (JetStream enabled) and `n_users` users.
    pub fn new(n_users: usize) -> Self {
        let operator = Operator::new("gnat-test-operator");
        let account = operator.new_account("gnat", true);
        let users = (0..n_users)
            .map(|i| account.new_user(&format!("user-{i}")))
            .collect();
        DecentralizedAuth {
            operator,
            account,
            users,
        }
    }

    /// Config text for [`ServerBuilder::config`](crate::ServerBuilder::config): operator mode
    /// with the system account and the account preloaded. For the account's JetStream, start
    /// the server with [`jetstream(true)`](crate::ServerBuilder::jetstream) too.
    pub fn server_config(&self) -> String {
        self.operator.server_config(&[&self.account])
    }

    /// Like [`server_config`](Self::server_config), but the preloaded account JWT revokes
    /// `user`: the server refuses it with `Authorization Violation`.
    pub fn server_config_revoking(&self, user: &User) -> String {
        let account = self.operator.reissue_account(&self.account, &[user]);
        self.operator.server_config(&[&account])
    }
}

/// Plain nkey users, without JWTs: the server config lists their public keys.
#[derive(Clone, Debug)]
pub struct NkeyUsers {
    /// The users' keys (`U…`).
    pub users: Vec<NKey>,
}

impl NkeyUsers {
    /// `n` new user keys.
    pub fn new(n: usize) -> Self {
        NkeyUsers {
            users: (0..n).map(|_| NKey::new_user()).collect(),
        }
    }

    /// Config text for [`ServerBuilder::config`](crate::ServerBuilder::config):
    /// `authorization { users: [ {nkey: "U…"}, … ] }`. Do not combine it with the builder's
    /// token or user/password (one `authorization` block replaces the other).
    pub fn server_config(&self) -> String {
        let mut c = String::from("authorization {\n  users: [\n");
        for key in &self.users {
            let _ = writeln!(c, "    {{nkey: {}}}", quote(&key.public_key()));
        }
        c.push_str("  ]\n}\n");
        c
    }
}
