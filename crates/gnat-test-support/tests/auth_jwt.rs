//! Decentralized auth on a real nats-server: plain nkey users, and operator mode with user JWTs
//! (and creds files), checked with raw connections that sign the server's nonce.

mod common;

use std::net::{SocketAddr, TcpStream};

use common::{Raw, connect};
use gnat_test_support::NatsServer;
use gnat_test_support::auth::{
    self, DecentralizedAuth, KeyKind, NKey, NkeyUsers, User, decode_jwt, decode_public_key,
};

const AUTH_VIOLATION: &str = "-ERR 'Authorization Violation'";

/// How the client proves who it is in `CONNECT`.
enum Identity<'a> {
    /// `nkey` and `sig`.
    Nkey(&'a NKey),
    /// `jwt` and `sig` (signed by `key`).
    Jwt(&'a str, &'a NKey),
}

/// Connects, signs the `INFO` nonce, sends `CONNECT` + `PING`; returns the connection and the
/// first non-INFO line (`PONG` or `-ERR …`).
fn connect_as(addr: SocketAddr, who: Identity<'_>) -> (Raw<TcpStream>, String) {
    let mut raw = connect(addr);
    assert_eq!(raw.info["auth_required"], true, "{}", raw.info);
    let nonce = raw.info["nonce"]
        .as_str()
        .unwrap_or_else(|| panic!("no nonce in {}", raw.info))
        .to_owned();
    let fields = match who {
        Identity::Nkey(key) => format!(
            r#""nkey":"{}","sig":"{}""#,
            key.public_key(),
            key.sign_nonce(&nonce)
        ),
        Identity::Jwt(jwt, key) => format!(r#""jwt":"{jwt}","sig":"{}""#, key.sign_nonce(&nonce)),
    };
    let reply = raw.handshake(&fields);
    (raw, reply)
}

fn connect_user(addr: SocketAddr, user: &User) -> String {
    connect_as(addr, Identity::Jwt(&user.jwt, &user.key)).1
}

#[test]
fn nkey_encodings_round_trip_and_detect_corruption() {
    for (key, letter) in [
        (NKey::new_operator(), 'O'),
        (NKey::new_account(), 'A'),
        (NKey::new_user(), 'U'),
    ] {
        let public = key.public_key();
        let seed = key.seed();
        assert!(public.starts_with(letter), "{public}");
        assert!(seed.starts_with(&format!("S{letter}")), "{seed}");
        assert_eq!((public.len(), seed.len()), (56, 58));

        let decoded = NKey::from_seed(&seed).unwrap();
        assert_eq!(decoded.public_key(), public);
        assert_eq!(decoded.seed(), seed);
        assert_eq!(
            decode_public_key(&public).unwrap(),
            (key.kind(), key.raw_public_key())
        );

        // One changed character is at most a 5-bit burst: the CRC-16 catches it.
        for text in [&public, &seed] {
            let mut corrupt = text.clone().into_bytes();
            corrupt[20] = if corrupt[20] == b'A' { b'B' } else { b'A' };
            let corrupt = String::from_utf8(corrupt).unwrap();
            let err = if text == &seed {
                NKey::from_seed(&corrupt).unwrap_err()
            } else {
                decode_public_key(&corrupt).unwrap_err()
            };
            assert!(err.contains("checksum"), "{err}");
        }
        // A public key is not a seed, and a seed is not a public key.
        assert!(NKey::from_seed(&public).is_err());
        assert!(decode_public_key(&seed).is_err());
    }
    assert_eq!(KeyKind::Operator.prefix_byte(), 14 << 3);
    assert_eq!(KeyKind::Account.prefix_byte(), 0);
    assert_eq!(KeyKind::User.prefix_byte(), 20 << 3);
}

#[test]
fn jwts_carry_the_v2_claims_and_chain_of_signers() {
    let auth = DecentralizedAuth::new(1);
    let operator = decode_jwt(&auth.operator.jwt).unwrap();
    let system = decode_jwt(&auth.operator.system_account.jwt).unwrap();
    let account = decode_jwt(&auth.account.jwt).unwrap();
    let user = decode_jwt(&auth.users[0].jwt).unwrap();

    let op_pub = auth.operator.key.public_key();
    let sys_pub = auth.operator.system_account.key.public_key();
    assert_eq!(operator["iss"], op_pub);
    assert_eq!(operator["sub"], op_pub);
    assert_eq!(operator["nats"]["type"], "operator");
    assert_eq!(operator["nats"]["version"], 2);
    assert_eq!(operator["nats"]["system_account"], sys_pub);
    assert_eq!(system["iss"], op_pub);
    assert_eq!(system["sub"], sys_pub);
    assert!(
        system["nats"]["limits"].get("disk_storage").is_none(),
        "{system}"
    );

    assert_eq!(account["iss"], op_pub);
    assert_eq!(account["sub"], auth.account.key.public_key());
    assert_eq!(account["name"], "gnat");
    assert_eq!(account["nats"]["type"], "account");
    assert_eq!(account["nats"]["limits"]["conn"], -1);
    assert_eq!(account["nats"]["limits"]["disk_storage"], -1);
    assert_eq!(account["nats"]["limits"]["mem_storage"], -1);

    assert_eq!(user["iss"], auth.account.key.public_key());
    assert_eq!(user["sub"], auth.users[0].key.public_key());
    assert_eq!(user["name"], "user-0");
    assert_eq!(user["nats"]["type"], "user");
    assert_eq!(user["nats"]["version"], 2);
    assert_eq!(user["nats"]["subs"], -1);
    for claims in [&operator, &system, &account, &user] {
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 52, "base32 of 32 bytes, no padding: {jti}");
        assert!(claims["iat"].as_i64().unwrap() > 1_700_000_000);
    }

    let revoking = auth
        .operator
        .reissue_account(&auth.account, &[&auth.users[0]]);
    let revoked = decode_jwt(&revoking.jwt).unwrap();
    let at = revoked["nats"]["revocations"][auth.users[0].key.public_key()]
        .as_i64()
        .unwrap();
    assert!(at >= user["iat"].as_i64().unwrap());
}

#[test]
fn creds_file_has_the_decorated_jwt_and_seed() {
    let auth = DecentralizedAuth::new(1);
    let user = &auth.users[0];
    let dir = std::env::temp_dir().join(format!("gnat-auth-jwt-creds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = user.write_creds(&dir);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(text, user.creds());

    let lines: Vec<&str> = text.lines().collect();
    let after = |marker: &str| -> &str {
        let i = lines.iter().position(|l| *l == marker).unwrap();
        lines[i + 1]
    };
    assert_eq!(after("-----BEGIN NATS USER JWT-----"), user.jwt);
    assert_eq!(after("-----BEGIN USER NKEY SEED-----"), user.key.seed());
    assert!(lines.contains(&"------END NATS USER JWT------"));
    assert!(lines.contains(&"------END USER NKEY SEED------"));

    // What a client reads back from the file is enough to log in.
    let server = NatsServer::builder().config(auth.server_config()).start();
    let key = NKey::from_seed(after("-----BEGIN USER NKEY SEED-----")).unwrap();
    let jwt = after("-----BEGIN NATS USER JWT-----");
    assert_eq!(
        connect_as(server.addr(), Identity::Jwt(jwt, &key)).1,
        "PONG"
    );
}

#[test]
fn nkey_users_sign_the_nonce() {
    let users = NkeyUsers::new(2);
    let server = NatsServer::builder().config(users.server_config()).start();
    for key in &users.users {
        assert_eq!(connect_as(server.addr(), Identity::Nkey(key)).1, "PONG");
    }

    // A signature of something else than this connection's nonce.
    let mut raw = connect(server.addr());
    let key = &users.users[0];
    let fields = format!(
        r#""nkey":"{}","sig":"{}""#,
        key.public_key(),
        key.sign_nonce("not the nonce")
    );
    assert_eq!(raw.handshake(&fields), AUTH_VIOLATION);

    // No signature at all.
    let mut raw = connect(server.addr());
    let fields = format!(r#""nkey":"{}""#, key.public_key());
    assert_eq!(raw.handshake(&fields), AUTH_VIOLATION);

    // A well-signed nonce from a key the server does not know.
    let stranger = NKey::new_user();
    assert_eq!(
        connect_as(server.addr(), Identity::Nkey(&stranger)).1,
        AUTH_VIOLATION
    );
}

#[test]
fn jwt_users_log_in_and_others_are_refused() {
    let auth = DecentralizedAuth::new(2);
    let server = NatsServer::builder().config(auth.server_config()).start();
    for user in &auth.users {
        assert_eq!(connect_user(server.addr(), user), "PONG");
    }
    let user = &auth.users[0];

    // The right JWT, but the nonce signed by another key.
    let other = NKey::new_user();
    assert_eq!(
        connect_as(server.addr(), Identity::Jwt(&user.jwt, &other)).1,
        AUTH_VIOLATION
    );
    // No JWT: the server is in operator mode.
    assert_eq!(
        connect_as(server.addr(), Identity::Nkey(&user.key)).1,
        AUTH_VIOLATION
    );
    // A user of an account the same operator signed, but the server does not have.
    let unknown = auth.operator.new_account("unknown", false).new_user("u");
    assert_eq!(connect_user(server.addr(), &unknown), AUTH_VIOLATION);
    // A user of an account another operator signed.
    let foreign = auth::Operator::new("elsewhere")
        .new_account("gnat", true)
        .new_user("u");
    assert_eq!(connect_user(server.addr(), &foreign), AUTH_VIOLATION);
    // A user JWT signed by a bare account key nobody signed.
    let key = NKey::new_user();
    let jwt = auth::encode_jwt(
        &NKey::new_account(),
        &key.public_key(),
        "rogue",
        serde_json::json!({"type": "user", "version": 2, "subs": -1, "data": -1, "payload": -1}),
    );
    assert_eq!(
        connect_as(server.addr(), Identity::Jwt(&jwt, &key)).1,
        AUTH_VIOLATION
    );
}

#[test]
fn revoked_user_is_refused() {
    let auth = DecentralizedAuth::new(2);
    let server = NatsServer::builder()
        .config(auth.server_config_revoking(&auth.users[0]))
        .start();
    assert_eq!(connect_user(server.addr(), &auth.users[0]), AUTH_VIOLATION);
    assert_eq!(connect_user(server.addr(), &auth.users[1]), "PONG");
}

#[test]
fn account_has_jetstream() {
    let auth = DecentralizedAuth::new(1);
    let server = NatsServer::builder()
        .jetstream(true)
        .config(auth.server_config())
        .start();
    let (mut raw, reply) = connect_as(
        server.addr(),
        Identity::Jwt(&auth.users[0].jwt, &auth.users[0].key),
    );
    assert_eq!(reply, "PONG");
    let info = raw.js_api("$JS.API.INFO", "");
    assert_eq!(
        info["type"], "io.nats.jetstream.api.v1.account_info_response",
        "{info}"
    );
    assert_eq!(info["streams"], 0, "{info}");

    // And the account can use it: a stream is created and listed.
    let created = raw.js_api(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"],"storage":"memory"}"#,
    );
    assert_eq!(created["config"]["name"], "S", "{created}");
    assert_eq!(raw.js_api("$JS.API.INFO", "")["streams"], 1);
}
