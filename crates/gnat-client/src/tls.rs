//! TLS for NATS connections: rustls client configuration and the handshake.
//!
//! [`TlsOptions`] says which roots to trust (custom CA PEM files or bytes, the
//! bundled Mozilla roots from `webpki-roots`, the system's roots), which client
//! certificate to present, and the two NATS-level switches (`tls_first`,
//! `required`). [`TlsOptions::client_config`] turns it into a rustls
//! [`ClientConfig`] on the `ring` provider; [`connect`] runs the client
//! handshake over any async stream.
//!
//! What it does not do: decide *when* to upgrade (that follows INFO
//! `tls_required`, the URL scheme and `tls_first`, in the connection code), or
//! offer a way to skip certificate verification (there is none, by design).
//!
//! Errors say what failed in words a user can act on, e.g.
//! `certificate verify failed: UnknownIssuer (...)` or
//! `certificate verify failed: NotValidForName (...)`, and keep the rustls
//! error for programs ([`TlsError::is_unknown_issuer`],
//! [`TlsError::is_name_mismatch`]).

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Why a TLS configuration could not be built or a handshake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("cannot read {what} file {}: {source}", path.display())]
    ReadFile {
        /// What the file was for ("CA certificate", "client certificate", "client key").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// PEM data is malformed.
    #[error("invalid PEM in {origin}: {message}")]
    Pem {
        /// The file or in-memory source.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// PEM data that should hold certificates holds none.
    #[error("no certificate found in {0}")]
    NoCertificate(String),
    /// PEM data that should hold a private key holds none.
    #[error("no private key found in {0}")]
    NoPrivateKey(String),
    /// A CA certificate could not be used as a trust anchor.
    #[error("invalid CA certificate in {origin}: {source}")]
    InvalidRoot {
        /// The file or in-memory source.
        origin: String,
        /// Why rustls rejected it.
        #[source]
        source: rustls::Error,
    },
    /// No root certificate would be trusted (every source disabled or empty).
    #[error(
        "no trusted root certificates: add a CA certificate or enable the webpki or native roots"
    )]
    NoRoots,
    /// The operating system's root store could not be loaded.
    #[error("cannot load the system's root certificates: {0}")]
    NativeRoots(String),
    /// rustls rejected the configuration (e.g. a client key that does not match its certificate).
    #[error("invalid TLS configuration: {0}")]
    Config(#[source] rustls::Error),
    /// The host is neither a valid DNS name nor an IP address.
    #[error("invalid TLS server name {0:?}")]
    InvalidServerName(String),
    /// The server's certificate failed verification.
    #[error("certificate verify failed: {}", describe_certificate_error(.0))]
    CertificateVerify(CertificateError),
    /// The server aborted the handshake with an alert (e.g. it wanted a client
    /// certificate, or rejected ours).
    #[error("TLS handshake rejected by the server: alert {0:?}")]
    PeerAlert(rustls::AlertDescription),
    /// Any other TLS protocol failure.
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] rustls::Error),
    /// The transport failed during the handshake.
    #[error("I/O error during TLS: {0}")]
    Io(#[source] io::Error),
}

impl TlsError {
    /// The server's certificate does not chain to a trusted root.
    pub fn is_unknown_issuer(&self) -> bool {
        matches!(
            self,
            TlsError::CertificateVerify(CertificateError::UnknownIssuer)
        )
    }

    /// The server's certificate is not valid for the name we connected to.
    pub fn is_name_mismatch(&self) -> bool {
        matches!(
            self,
            TlsError::CertificateVerify(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )
        )
    }

    /// Any failure to verify the server's certificate.
    pub fn is_certificate_error(&self) -> bool {
        matches!(self, TlsError::CertificateVerify(_))
    }

    fn from_rustls(err: rustls::Error) -> TlsError {
        match err {
            rustls::Error::InvalidCertificate(cert) => TlsError::CertificateVerify(cert),
            rustls::Error::AlertReceived(alert) => TlsError::PeerAlert(alert),
            other => TlsError::Handshake(other),
        }
    }
}

impl From<io::Error> for TlsError {
    /// Classifies an I/O error from a TLS stream: a rustls error inside becomes
    /// the matching variant, anything else is [`TlsError::Io`]. Useful for
    /// errors from the first reads after the handshake, where TLS 1.3 servers
    /// report a rejected client certificate.
    fn from(err: io::Error) -> TlsError {
        match err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => TlsError::from_rustls(tls.clone()),
            None => TlsError::Io(err),
        }
    }
}

fn describe_certificate_error(err: &CertificateError) -> String {
    match err {
        CertificateError::UnknownIssuer => {
            "UnknownIssuer (the server's certificate is not signed by a trusted CA)".to_owned()
        }
        CertificateError::NotValidForName => "NotValidForName".to_owned(),
        CertificateError::NotValidForNameContext { .. } => format!("NotValidForName ({err})"),
        other => other.to_string(),
    }
}

/// PEM bytes from a file (read when the config is built) or from memory.
#[derive(Clone)]
enum PemSource {
    File(PathBuf),
    Memory(Vec<u8>),
}

impl PemSource {
    fn load(&self, what: &'static str) -> Result<Vec<u8>, TlsError> {
        match self {
            PemSource::File(path) => std::fs::read(path).map_err(|source| TlsError::ReadFile {
                what,
                path: path.clone(),
                source,
            }),
            PemSource::Memory(bytes) => Ok(bytes.clone()),
        }
    }

    fn origin(&self, what: &str) -> String {
        match self {
            PemSource::File(path) => path.display().to_string(),
            PemSource::Memory(_) => format!("in-memory {what}"),
        }
    }
}

/// Builder-style TLS settings for a connection.
///
/// Root certificates: every CA added with [`TlsOptions::add_root_certificate`] or
/// [`TlsOptions::add_root_pem`] is trusted; the bundled webpki (Mozilla) roots
/// are trusted when no CA was added, unless set otherwise with
/// [`TlsOptions::use_webpki_roots`]; the system's roots only when
/// [`TlsOptions::use_native_roots`] is on. There is deliberately no option to
/// skip verification.
///
/// `Debug` does not print PEM contents (a client key is a secret).
#[derive(Clone)]
pub struct TlsOptions {
    roots: Vec<PemSource>,
    use_webpki_roots: Option<bool>,
    use_native_roots: bool,
    client_cert: Option<(PemSource, PemSource)>,
    server_name_override: Option<String>,
    tls_first: bool,
    required: bool,
    custom: Option<Arc<ClientConfig>>,
}

impl Default for TlsOptions {
    fn default() -> TlsOptions {
        TlsOptions::new()
    }
}

impl TlsOptions {
    /// Defaults: webpki roots, no client certificate, TLS neither first nor required.
    pub fn new() -> TlsOptions {
        TlsOptions {
            roots: Vec::new(),
            use_webpki_roots: None,
            use_native_roots: false,
            client_cert: None,
            server_name_override: None,
            tls_first: false,
            required: false,
            custom: None,
        }
    }

    /// Uses this rustls configuration as it is — for ALPN, a custom certificate verifier, a
    /// client-certificate resolver, or anything else rustls offers — instead of building one
    /// from the roots and client certificate set here (those are then ignored; the server
    /// name override, TLS-first and required still apply). Verification is whatever `config`
    /// does: gnat never turns it off, and the default configuration always verifies.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let mut roots = rustls::RootCertStore::empty();
    /// roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let mut config = rustls::ClientConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()
    ///     .unwrap()
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// config.alpn_protocols = vec![b"nats".to_vec()];
    /// let tls = gnat_client::TlsOptions::new().custom_config(Arc::new(config));
    /// let opts = gnat_client::ConnectOptions::new().tls(tls);
    /// # let _ = opts;
    /// ```
    pub fn custom_config(mut self, config: Arc<ClientConfig>) -> TlsOptions {
        self.custom = Some(config);
        self
    }

    /// Trusts the CA certificates in a PEM file (read by [`TlsOptions::client_config`]).
    pub fn add_root_certificate(mut self, path: impl Into<PathBuf>) -> TlsOptions {
        self.roots.push(PemSource::File(path.into()));
        self
    }

    /// Trusts the CA certificates in PEM bytes.
    pub fn add_root_pem(mut self, pem: &[u8]) -> TlsOptions {
        self.roots.push(PemSource::Memory(pem.to_vec()));
        self
    }

    /// Whether to trust the bundled webpki (Mozilla) roots. Default: only when
    /// no CA certificate was added.
    pub fn use_webpki_roots(mut self, enabled: bool) -> TlsOptions {
        self.use_webpki_roots = Some(enabled);
        self
    }

    /// Whether to trust the operating system's roots. Default: no.
    pub fn use_native_roots(mut self, enabled: bool) -> TlsOptions {
        self.use_native_roots = enabled;
        self
    }

    /// Presents a client certificate: a PEM certificate chain file (leaf first)
    /// and a PEM private key file (PKCS#8, PKCS#1 or SEC1).
    pub fn client_certificate(
        mut self,
        chain: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> TlsOptions {
        self.client_cert = Some((PemSource::File(chain.into()), PemSource::File(key.into())));
        self
    }

    /// Presents a client certificate given as PEM bytes (chain, then key).
    pub fn client_certificate_pem(mut self, chain: &[u8], key: &[u8]) -> TlsOptions {
        self.client_cert = Some((
            PemSource::Memory(chain.to_vec()),
            PemSource::Memory(key.to_vec()),
        ));
        self
    }

    /// Verifies the server's certificate against this name instead of the host dialled.
    pub fn server_name_override(mut self, name: impl Into<String>) -> TlsOptions {
        self.server_name_override = Some(name.into());
        self
    }

    /// Does the TLS handshake right after TCP connect, before the server's INFO
    /// (servers configured with `handshake_first`).
    pub fn tls_first(mut self, enabled: bool) -> TlsOptions {
        self.tls_first = enabled;
        self
    }

    /// Requires TLS even when the server does not ask for it.
    pub fn required(mut self, enabled: bool) -> TlsOptions {
        self.required = enabled;
        self
    }

    /// Whether the handshake comes before INFO.
    pub fn is_tls_first(&self) -> bool {
        self.tls_first
    }

    /// Whether the client requires TLS.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The name to verify the server's certificate against when dialling `host`.
    pub fn server_name_for<'a>(&'a self, host: &'a str) -> &'a str {
        self.server_name_override.as_deref().unwrap_or(host)
    }

    /// Builds the rustls client configuration (reading any PEM files now).
    ///
    /// Uses the `ring` provider and rustls' safe default protocol versions
    /// (TLS 1.2 and 1.3). Build it once and share the `Arc` across reconnects.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        if let Some(custom) = &self.custom {
            return Ok(custom.clone());
        }
        let mut roots = RootCertStore::empty();
        for source in &self.roots {
            let origin = source.origin("CA certificate");
            let pem = source.load("CA certificate")?;
            for cert in parse_certs(&pem, &origin)? {
                roots.add(cert).map_err(|source| TlsError::InvalidRoot {
                    origin: origin.clone(),
                    source,
                })?;
            }
        }
        if self.use_webpki_roots.unwrap_or(self.roots.is_empty()) {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if self.use_native_roots {
            let native = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                let why = if native.errors.is_empty() {
                    "none found".to_owned()
                } else {
                    native
                        .errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                return Err(TlsError::NativeRoots(why));
            }
        }
        if roots.is_empty() {
            return Err(TlsError::NoRoots);
        }

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_root_certificates(roots);
        let config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((chain_source, key_source)) => {
                let chain_origin = chain_source.origin("client certificate");
                let chain = parse_certs(&chain_source.load("client certificate")?, &chain_origin)?;
                let key_origin = key_source.origin("client key");
                let key = parse_key(&key_source.load("client key")?, &key_origin)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(TlsError::Config)?
            }
        };
        Ok(Arc::new(config))
    }
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let roots: Vec<String> = self
            .roots
            .iter()
            .map(|source| source.origin("CA certificate"))
            .collect();
        let client_cert = self
            .client_cert
            .as_ref()
            .map(|(chain, _)| format!("{} (key redacted)", chain.origin("certificate")));
        f.debug_struct("TlsOptions")
            .field("roots", &roots)
            .field("use_webpki_roots", &self.use_webpki_roots)
            .field("use_native_roots", &self.use_native_roots)
            .field("client_cert", &client_cert)
            .field("server_name_override", &self.server_name_override)
            .field("tls_first", &self.tls_first)
            .field("required", &self.required)
            .field("custom_config", &self.custom.is_some())
            .finish()
    }
}

fn parse_certs(pem: &[u8], origin: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::Pem {
            origin: origin.to_owned(),
            message: err.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(origin.to_owned()));
    }
    Ok(certs)
}

fn parse_key(pem: &[u8], origin: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|err| match err {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey(origin.to_owned()),
        other => TlsError::Pem {
            origin: origin.to_owned(),
            message: other.to_string(),
        },
    })
}

/// The rustls server name for `host`: an IP literal (brackets allowed for v6)
/// becomes [`ServerName::IpAddress`], anything else must be a valid DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(bare.to_owned()).map_err(|_| TlsError::InvalidServerName(host.to_owned()))
}

/// Runs the TLS client handshake over `io`, verifying the server's certificate
/// for `host` (pass [`TlsOptions::server_name_for`] to honour an override).
pub async fn connect<IO>(
    config: Arc<ClientConfig>,
    host: &str,
    io: IO,
) -> Result<TlsStream<IO>, TlsError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let name = server_name(host)?;
    TlsConnector::from(config)
        .connect(name, io)
        .await
        .map_err(TlsError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    use rustls::ServerConfig;
    use rustls::server::WebPkiClientVerifier;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::TlsAcceptor;

    /// A CA that can issue server and client certificates.
    struct Ca {
        pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    impl Ca {
        fn new(name: &str) -> Ca {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let key = KeyPair::generate().unwrap();
            let pem = params.self_signed(&key).unwrap().pem();
            Ca {
                pem,
                issuer: Issuer::new(params, key),
            }
        }

        /// (certificate PEM, key PEM) for the given names.
        fn issue(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> (String, String) {
            let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
            let mut params = CertificateParams::new(names).unwrap();
            params
                .distinguished_name
                .push(DnType::CommonName, "gnat test");
            params.extended_key_usages = vec![purpose];
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        }
    }

    fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
        parse_certs(pem.as_bytes(), "test").unwrap()
    }

    fn key(pem: &str) -> PrivateKeyDer<'static> {
        parse_key(pem.as_bytes(), "test").unwrap()
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// Server config for "localhost" and 127.0.0.1, optionally requiring client certs from `client_ca`.
    fn server_config(ca: &Ca, client_ca: Option<&Ca>) -> Arc<ServerConfig> {
        let (cert_pem, key_pem) = ca.issue(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(client_ca) => {
                let mut roots = RootCertStore::empty();
                for cert in certs(&client_ca.pem) {
                    roots.add(cert).unwrap();
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        Arc::new(
            builder
                .with_single_cert(certs(&cert_pem), key(&key_pem))
                .unwrap(),
        )
    }

    /// Serves one TLS connection: reads a line-less 4-byte ping, answers "pong",
    /// and reports how many client certificates the peer presented.
    async fn serve_once(
        config: Arc<ServerConfig>,
    ) -> (u16, tokio::task::JoinHandle<Result<usize, io::Error>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let mut tls = TlsAcceptor::from(config).accept(tcp).await?;
            let presented = tls.get_ref().1.peer_certificates().map_or(0, <[_]>::len);
            let mut ping = [0u8; 4];
            tls.read_exact(&mut ping).await?;
            assert_eq!(&ping, b"ping");
            tls.write_all(b"pong").await?;
            tls.shutdown().await?;
            Ok(presented)
        });
        (port, task)
    }

    /// Connects, exchanges ping/pong, returns the first error.
    async fn client_round_trip(
        config: Arc<ClientConfig>,
        host: &str,
        port: u16,
    ) -> Result<(), TlsError> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        let mut tls = connect(config, host, tcp).await?;
        tls.write_all(b"ping").await?;
        tls.flush().await?;
        let mut pong = [0u8; 4];
        tls.read_exact(&mut pong).await?;
        assert_eq!(&pong, b"pong");
        Ok(())
    }

    fn temp_file(contents: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "gnat-tls-test-{}-{}.pem",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[tokio::test]
    async fn right_ca_connects_by_name_and_ip() {
        let ca = Ca::new("gnat test CA");
        let server = server_config(&ca, None);
        let client = TlsOptions::new()
            .add_root_pem(ca.pem.as_bytes())
            .client_config()
            .unwrap();
        for host in ["localhost", "127.0.0.1"] {
            let (port, task) = serve_once(server.clone()).await;
            client_round_trip(client.clone(), host, port).await.unwrap();
            assert_eq!(task.await.unwrap().unwrap(), 0);
        }
        // The same CA from a file.
        let path = temp_file(&ca.pem);
        let client = TlsOptions::new()
            .add_root_certificate(&path)
            .client_config();
        std::fs::remove_file(&path).unwrap();
        let (port, task) = serve_once(server).await;
        client_round_trip(client.unwrap(), "localhost", port)
            .await
            .unwrap();
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn wrong_ca_is_unknown_issuer() {
        let ca = Ca::new("server CA");
        let other = Ca::new("other CA");
        let (port, task) = serve_once(server_config(&ca, None)).await;
        let client = TlsOptions::new()
            .add_root_pem(other.pem.as_bytes())
            .client_config()
            .unwrap();
        let err = client_round_trip(client, "localhost", port)
            .await
            .unwrap_err();
        assert!(err.is_unknown_issuer(), "{err:?}");
        assert!(err.is_certificate_error());
        assert!(
            err.to_string()
                .starts_with("certificate verify failed: UnknownIssuer"),
            "{err}"
        );
        assert!(task.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn wrong_name_is_rejected() {
        let ca = Ca::new("server CA");
        let (port, task) = serve_once(server_config(&ca, None)).await;
        let client = TlsOptions::new()
            .add_root_pem(ca.pem.as_bytes())
            .client_config()
            .unwrap();
        let err = client_round_trip(client, "nats.example.com", port)
            .await
            .unwrap_err();
        assert!(err.is_name_mismatch(), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("certificate verify failed: NotValidForName")
                && msg.contains("localhost"),
            "{msg}"
        );
        assert!(task.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn client_certificate_is_presented() {
        let ca = Ca::new("server CA");
        let client_ca = Ca::new("client CA");
        let server = server_config(&ca, Some(&client_ca));
        let (cert_pem, key_pem) = client_ca.issue(&["alice"], ExtendedKeyUsagePurpose::ClientAuth);

        // From files.
        let cert_path = temp_file(&cert_pem);
        let key_path = temp_file(&key_pem);
        let options = TlsOptions::new()
            .add_root_pem(ca.pem.as_bytes())
            .client_certificate(&cert_path, &key_path);
        let config = options.client_config();
        std::fs::remove_file(&cert_path).unwrap();
        std::fs::remove_file(&key_path).unwrap();
        let (port, task) = serve_once(server.clone()).await;
        client_round_trip(config.unwrap(), "localhost", port)
            .await
            .unwrap();
        assert_eq!(task.await.unwrap().unwrap(), 1);
        assert!(!format!("{options:?}").contains("PRIVATE KEY"));

        // From memory.
        let options = TlsOptions::new()
            .add_root_pem(ca.pem.as_bytes())
            .client_certificate_pem(cert_pem.as_bytes(), key_pem.as_bytes());
        assert!(!format!("{options:?}").contains("PRIVATE KEY"));
        let (port, task) = serve_once(server.clone()).await;
        client_round_trip(options.client_config().unwrap(), "localhost", port)
            .await
            .unwrap();
        assert_eq!(task.await.unwrap().unwrap(), 1);

        // Without one, the server refuses (TLS 1.3 reports it on the first read).
        let client = TlsOptions::new()
            .add_root_pem(ca.pem.as_bytes())
            .client_config()
            .unwrap();
        let (port, task) = serve_once(server).await;
        let err = client_round_trip(client, "localhost", port)
            .await
            .unwrap_err();
        assert!(matches!(err, TlsError::PeerAlert(_)), "{err:?}");
        assert!(task.await.unwrap().is_err());
    }

    #[test]
    fn config_errors() {
        let ca = Ca::new("CA");
        assert!(matches!(
            TlsOptions::new().use_webpki_roots(false).client_config(),
            Err(TlsError::NoRoots)
        ));
        let err = TlsOptions::new()
            .add_root_pem(b"not pem at all")
            .client_config()
            .unwrap_err();
        assert!(
            matches!(err, TlsError::NoCertificate(ref o) if o == "in-memory CA certificate"),
            "{err:?}"
        );
        let err = TlsOptions::new()
            .add_root_certificate("/nonexistent/gnat/ca.pem")
            .client_config()
            .unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::ReadFile {
                    what: "CA certificate",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("/nonexistent/gnat/ca.pem"));
        let err = TlsOptions::new()
            .add_root_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n")
            .client_config()
            .unwrap_err();
        assert!(matches!(err, TlsError::Pem { .. }), "{err:?}");
        // A CA PEM whose DER is garbage.
        let err = TlsOptions::new()
            .add_root_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .client_config()
            .unwrap_err();
        assert!(matches!(err, TlsError::InvalidRoot { .. }), "{err:?}");
        // A client "key" that is a certificate.
        let (cert_pem, key_pem) = ca.issue(&["alice"], ExtendedKeyUsagePurpose::ClientAuth);
        let err = TlsOptions::new()
            .client_certificate_pem(cert_pem.as_bytes(), cert_pem.as_bytes())
            .client_config()
            .unwrap_err();
        assert!(matches!(err, TlsError::NoPrivateKey(_)), "{err:?}");
        // A key that does not match the certificate.
        let (_, other_key) = ca.issue(&["bob"], ExtendedKeyUsagePurpose::ClientAuth);
        let err = TlsOptions::new()
            .client_certificate_pem(cert_pem.as_bytes(), other_key.as_bytes())
            .client_config()
            .unwrap_err();
        assert!(matches!(err, TlsError::Config(_)), "{err:?}");
        assert!(
            TlsOptions::new()
                .client_certificate_pem(cert_pem.as_bytes(), key_pem.as_bytes())
                .client_config()
                .is_ok()
        );
    }

    #[test]
    fn roots_and_switches() {
        let ca = Ca::new("CA");
        // Default: webpki roots.
        assert!(TlsOptions::default().client_config().is_ok());
        // Custom CA plus webpki on request.
        assert!(
            TlsOptions::new()
                .add_root_pem(ca.pem.as_bytes())
                .use_webpki_roots(true)
                .client_config()
                .is_ok()
        );
        // Native roots: present or a clear error, never a panic.
        match TlsOptions::new().use_native_roots(true).client_config() {
            Ok(_) => {}
            Err(err) => assert!(matches!(err, TlsError::NativeRoots(_)), "{err:?}"),
        }
        let options = TlsOptions::new()
            .tls_first(true)
            .required(true)
            .server_name_override("nats.internal");
        assert!(options.is_tls_first() && options.is_required());
        assert_eq!(options.server_name_for("10.0.0.1"), "nats.internal");
        assert_eq!(TlsOptions::new().server_name_for("h"), "h");
        assert!(!TlsOptions::new().is_tls_first());
    }

    #[test]
    fn server_names() {
        assert!(matches!(
            server_name("127.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(server_name("::1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(
            server_name("demo.nats.io"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            server_name("bad name"),
            Err(TlsError::InvalidServerName(_))
        ));
        assert!(matches!(
            server_name(""),
            Err(TlsError::InvalidServerName(_))
        ));
    }
}
