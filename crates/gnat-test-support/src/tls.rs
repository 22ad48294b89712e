//! Certificates for TLS tests, generated at test time with rcgen (nothing checked into git).
//!
//! [`generate`] makes a test CA, a server certificate it signs (SANs `localhost` and
//! `127.0.0.1` plus any given), a client certificate it signs, and an unrelated second CA with
//! its own client certificate for "wrong CA" tests. All keys are ECDSA P-256; all files are PEM
//! in a temporary directory that is removed when the [`TlsFiles`] is dropped.
//!
//! ```no_run
//! use gnat_test_support::{NatsServer, tls};
//! let files = tls::generate(&[]);
//! let server = NatsServer::builder().tls(&files).start();
//! // A client trusts files.ca_cert and connects to 127.0.0.1 or localhost.
//! ```

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::tempdir::TempDir;

/// PEM files for a TLS test, in [`dir`](Self::dir), removed on drop.
#[derive(Debug)]
pub struct TlsFiles {
    /// The directory holding all the files.
    pub dir: PathBuf,
    /// The test CA's certificate: what clients trust, and what the server checks client
    /// certificates against.
    pub ca_cert: PathBuf,
    /// The server certificate, signed by the test CA.
    pub server_cert: PathBuf,
    /// The server certificate's private key (PKCS#8).
    pub server_key: PathBuf,
    /// A client certificate signed by the test CA (extended key usage: client auth).
    pub client_cert: PathBuf,
    /// The client certificate's private key (PKCS#8).
    pub client_key: PathBuf,
    /// An unrelated CA: a client trusting only this must reject the server.
    pub other_ca_cert: PathBuf,
    /// A client certificate signed by the unrelated CA: a verifying server must reject it.
    pub other_client_cert: PathBuf,
    /// The private key of [`other_client_cert`](Self::other_client_cert).
    pub other_client_key: PathBuf,
    _guard: TempDir,
}

/// Generates a CA and certificates; the server certificate's SANs are `localhost`, `127.0.0.1`
/// and `hostnames` (each an IP address or a DNS name).
///
/// # Panics
///
/// If rcgen refuses a name or the files cannot be written.
pub fn generate(hostnames: &[&str]) -> TlsFiles {
    let mut sans = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    for name in hostnames {
        if !sans.iter().any(|s| s == name) {
            sans.push((*name).to_owned());
        }
    }
    build(sans).unwrap_or_else(|e| panic!("generating test certificates: {e}"))
}

/// Like [`generate`], but the server certificate has exactly `sans` (e.g. only a name the
/// client does not connect to, for a hostname-mismatch test).
///
/// # Panics
///
/// If rcgen refuses a name or the files cannot be written.
pub fn generate_exact(sans: &[&str]) -> TlsFiles {
    build(sans.iter().map(|s| (*s).to_owned()).collect())
        .unwrap_or_else(|e| panic!("generating test certificates: {e}"))
}

fn build(sans: Vec<String>) -> Result<TlsFiles, String> {
    let guard = TempDir::new("tls");
    let dir = guard.path().to_owned();
    let write = |name: &str, pem: String| -> Result<PathBuf, String> {
        let path = dir.join(name);
        std::fs::write(&path, pem).map_err(|e| format!("write {}: {e}", path.display()))?;
        Ok(path)
    };
    let err = |e: rcgen::Error| e.to_string();

    let ca = new_ca("gnat test CA").map_err(err)?;
    let (server_cert, server_key) = leaf(
        &ca,
        sans,
        "gnat test server",
        ExtendedKeyUsagePurpose::ServerAuth,
    )
    .map_err(err)?;
    let (client_cert, client_key) = leaf(
        &ca,
        Vec::new(),
        "gnat test client",
        ExtendedKeyUsagePurpose::ClientAuth,
    )
    .map_err(err)?;
    let other = new_ca("gnat unrelated test CA").map_err(err)?;
    let (other_client_cert, other_client_key) = leaf(
        &other,
        Vec::new(),
        "gnat test client of the unrelated CA",
        ExtendedKeyUsagePurpose::ClientAuth,
    )
    .map_err(err)?;

    Ok(TlsFiles {
        ca_cert: write("ca.pem", ca.pem())?,
        server_cert: write("server-cert.pem", server_cert)?,
        server_key: write("server-key.pem", server_key)?,
        client_cert: write("client-cert.pem", client_cert)?,
        client_key: write("client-key.pem", client_key)?,
        other_ca_cert: write("other-ca.pem", other.pem())?,
        other_client_cert: write("other-client-cert.pem", other_client_cert)?,
        other_client_key: write("other-client-key.pem", other_client_key)?,
        dir,
        _guard: guard,
    })
}

fn new_ca(common_name: &str) -> Result<CertifiedIssuer<'static, KeyPair>, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate()?)
}

/// A certificate signed by `ca`; returns (certificate PEM, private key PEM).
fn leaf(
    ca: &CertifiedIssuer<'static, KeyPair>,
    sans: Vec<String>,
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> Result<(String, String), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(sans)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, ca)?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl TlsFiles {
    /// Reads one of the files (e.g. `files.read(&files.ca_cert)`) as text.
    ///
    /// # Panics
    ///
    /// If it cannot be read.
    pub fn read(&self, path: &Path) -> String {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }
}
