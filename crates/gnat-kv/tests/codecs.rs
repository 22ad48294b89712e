//! ADR-54 codecs against a real nats-server: the stored subjects are the ones the Go
//! reference codecs produce, filters keep their wildcards for `keys` and `watch`, and a value
//! codec encrypts with AES-256-GCM from `ring` (the example an application would copy).

mod common;

use common::*;
use gnat_kv::{
    Base64Codec, Bytes, Config, Error, ErrorKind, KeyChain, NoOpCodec, PathCodec, ValueCodec,
    WatchEvent,
};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Encrypts values with AES-256-GCM: a random 96-bit nonce, then the ciphertext and tag.
struct Aes256Gcm {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl Aes256Gcm {
    fn new(key: &[u8; 32]) -> Self {
        Aes256Gcm {
            key: LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).unwrap()),
            rng: SystemRandom::new(),
        }
    }
}

impl ValueCodec for Aes256Gcm {
    fn encode_value(&self, value: Bytes) -> gnat_kv::Result<Bytes> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| Error::new(ErrorKind::Codec, "no randomness"))?;
        let mut sealed = value.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .map_err(|_| Error::new(ErrorKind::Codec, "sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out.into())
    }

    fn decode_value(&self, encoded: Bytes) -> gnat_kv::Result<Bytes> {
        if encoded.len() < NONCE_LEN {
            return Err(Error::new(ErrorKind::Codec, "ciphertext too short"));
        }
        let (nonce, sealed) = encoded.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| Error::new(ErrorKind::Codec, "bad nonce"))?;
        let mut buf = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .map_err(|_| Error::new(ErrorKind::Codec, "wrong key or tampered value"))?;
        Ok(Bytes::copy_from_slice(plain))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base64_keys_are_stored_as_the_reference_encodes_them() {
    let (_s, _js, kv) = bucket(Config::new("C64").history(3)).await;
    let coded = kv.with_key_codec(Base64Codec);
    coded
        .put("Acme Inc.contact", "info@acme.com")
        .await
        .unwrap();
    coded.put("Acme Inc.phone", "555").await.unwrap();
    coded.put("Other Co.contact", "x").await.unwrap();
    // The raw bucket holds the per-token URL-safe base64 keys, byte for byte.
    let mut raw = kv.keys().await.unwrap();
    raw.sort();
    assert_eq!(
        raw,
        [
            "QWNtZSBJbmM.Y29udGFjdA",
            "QWNtZSBJbmM.cGhvbmU",
            "T3RoZXIgQ28.Y29udGFjdA"
        ]
    );
    assert_eq!(
        kv.get("QWNtZSBJbmM.Y29udGFjdA").await.unwrap().as_deref(),
        Some(&b"info@acme.com"[..])
    );
    assert_eq!(
        coded.get("Acme Inc.contact").await.unwrap().as_deref(),
        Some(&b"info@acme.com"[..])
    );
    let e = coded.entry("Acme Inc.phone").await.unwrap().unwrap();
    assert_eq!(&*e.key, "Acme Inc.phone");
    // Wildcards survive the encoding.
    let mut acme = coded.keys_matching("Acme Inc.*").await.unwrap();
    acme.sort();
    assert_eq!(acme, ["Acme Inc.contact", "Acme Inc.phone"]);
    assert_eq!(coded.keys_matching("*.contact").await.unwrap().len(), 2);
    assert_eq!(coded.keys().await.unwrap().len(), 3);

    let mut w = coded.watch("Acme Inc.>").await.unwrap();
    let mut seen = Vec::new();
    while let WatchEvent::Entry(e) = within("watch", w.next()).await.unwrap().unwrap() {
        seen.push(e.key.to_string());
    }
    seen.sort();
    assert_eq!(seen, ["Acme Inc.contact", "Acme Inc.phone"]);
    coded.put("Other Co.phone", "ignored").await.unwrap();
    coded.delete("Acme Inc.phone").await.unwrap();
    match within("watch", w.next()).await.unwrap().unwrap() {
        WatchEvent::Entry(e) => {
            assert_eq!(&*e.key, "Acme Inc.phone");
            assert!(e.operation.is_tombstone());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(coded.history("Acme Inc.phone").await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_keys_and_encrypted_values_chain() {
    let (_s, _js, kv) = bucket(Config::new("SECRET")).await;
    let secret = [7u8; 32];
    let files = kv.with_codecs(
        KeyChain::new().then(PathCodec),
        gnat_kv::ValueChain::new()
            .then(Aes256Gcm::new(&secret))
            .then(Base64Codec),
    );
    let rev = files
        .put("/etc/app/config", "password=hunter2")
        .await
        .unwrap();
    files.create("/etc/app/other", "two").await.unwrap();
    files
        .update("/etc/app/config", "password=swordfish", rev)
        .await
        .unwrap();
    // Stored: a path-coded key, and a value no one without the key can read.
    let stored = kv.get("_root_.etc.app.config").await.unwrap().unwrap();
    assert!(!stored.windows(9).any(|w| w == b"swordfish"));
    assert!(
        stored
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    );
    assert_eq!(
        files.get("/etc/app/config").await.unwrap().as_deref(),
        Some(&b"password=swordfish"[..])
    );
    let mut keys = files.keys_matching("/etc/app/*").await.unwrap();
    keys.sort();
    assert_eq!(keys, ["/etc/app/config", "/etc/app/other"]);
    // The wrong key cannot read it: the codec's error, not garbage.
    let wrong = kv.with_codecs(
        PathCodec,
        gnat_kv::ValueChain::new()
            .then(Aes256Gcm::new(&[8u8; 32]))
            .then(Base64Codec),
    );
    let err = wrong.get("/etc/app/config").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Codec);
    // Deletes need no value decoding.
    files.delete("/etc/app/other").await.unwrap();
    assert_eq!(files.get("/etc/app/other").await.unwrap(), None);
    let plain = kv.with_codecs(NoOpCodec, NoOpCodec);
    assert_eq!(
        plain.get("_root_.etc.app.config").await.unwrap(),
        Some(stored)
    );
}
