//! A custom `rustls::ClientConfig` against a real TLS nats-server: ALPN set, a custom
//! verifier that is really consulted, a client-certificate resolver for a server that verifies
//! clients, and verification still on (a config without the CA is refused).

mod real;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gnat_client::rustls;
use gnat_client::{Client, ConnectOptions, ErrorKind};
use gnat_test_support::{NatsServer, tls};
use real::next;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

async fn assert_pubsub(client: &Client) {
    let mut sub = client.subscribe("tls.custom").await.unwrap();
    client.flush().await.unwrap();
    client.publish("tls.custom", "ok").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "ok");
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &std::path::Path) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

/// Delegates to webpki and counts the certificates it was asked to verify.
#[derive(Debug)]
struct Counting {
    inner: Arc<WebPkiServerVerifier>,
    calls: Arc<AtomicUsize>,
}

impl ServerCertVerifier for Counting {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Always offers one certificate, counting how often it was asked.
#[derive(Debug)]
struct OneCert {
    key: Arc<CertifiedKey>,
    calls: Arc<AtomicUsize>,
}

impl ResolvesClientCert for OneCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Some(self.key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_config_with_alpn_and_a_custom_verifier() {
    let files = tls::generate(&[]);
    let server = NatsServer::builder().tls(&files).start();
    let calls = Arc::new(AtomicUsize::new(0));
    let inner =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots(&files.ca_cert)), provider())
            .build()
            .unwrap();
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Counting {
            inner,
            calls: calls.clone(),
        }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"nats".to_vec()];
    let client = ConnectOptions::new()
        .tls_client_config(Arc::new(config))
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the custom verifier decided"
    );

    // Verification stays on: a config trusting only an unrelated CA is refused.
    let other = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&files.other_ca_cert))
        .with_no_client_auth();
    let err = ConnectOptions::new()
        .tls_client_config(Arc::new(other))
        .connect(server.url())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_resolver_for_a_verifying_server() {
    let files = tls::generate(&[]);
    let server = NatsServer::builder().tls(&files).tls_verify(true).start();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.client_cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&files.client_key).unwrap();
    let signing = provider().key_provider.load_private_key(key).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&files.ca_cert))
        .with_client_cert_resolver(Arc::new(OneCert {
            key: Arc::new(CertifiedKey::new(chain, signing)),
            calls: calls.clone(),
        }));
    let client = ConnectOptions::new()
        .tls_client_config(Arc::new(config))
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;
    assert!(calls.load(Ordering::SeqCst) >= 1, "the resolver was asked");

    // Without a client certificate the server refuses.
    let bare = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&files.ca_cert))
        .with_no_client_auth();
    let refused = ConnectOptions::new()
        .tls_client_config(Arc::new(bare))
        .connect(server.url())
        .await;
    assert!(refused.is_err(), "connected without a client certificate");
}
