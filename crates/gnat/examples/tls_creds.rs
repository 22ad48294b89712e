//! Connecting with TLS and a credentials file (JWT + nkey seed), the way a managed or
//! operator-mode NATS deployment asks for.
//!
//! ```text
//! cargo run -p gnat --example tls_creds
//! ```
//!
//! With `NATS_URL` set it connects there, trusting the CA in `NATS_CA` (a PEM file; default:
//! the built-in web roots) with the credentials in `NATS_CREDS` (optional) and the client
//! certificate `NATS_CERT` + `NATS_KEY` (optional). Without it, it starts a throwaway local
//! nats-server in operator mode with TLS, and generates a CA, certificates and a user's
//! credentials file for it.

use std::path::PathBuf;

use gnat::ConnectOptions;
use gnat_test_support::auth::DecentralizedAuth;
use gnat_test_support::{NatsServer, tls};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    // What a throwaway setup needs to stay alive until the end.
    let mut _throwaway = None;
    let (url, ca, creds, client_cert) = match env("NATS_URL") {
        Some(url) => (
            url,
            env("NATS_CA").map(PathBuf::from),
            env("NATS_CREDS").map(PathBuf::from),
            env("NATS_CERT").zip(env("NATS_KEY")),
        ),
        None => {
            let files = tls::generate(&[]);
            let auth = DecentralizedAuth::new(1);
            let server = NatsServer::builder()
                .tls(&files)
                .config(auth.server_config())
                .start();
            let creds = auth.users[0].write_creds(server.dir());
            let url = format!("tls://localhost:{}", server.port());
            let ca = files.ca_cert.clone();
            _throwaway = Some((server, files));
            (url, Some(ca), Some(creds), None)
        }
    };

    let mut options = ConnectOptions::new().name("tls-creds-example");
    if let Some(ca) = ca {
        options = options.add_root_certificate(ca); // trust this CA for the server certificate
    }
    if let Some(creds) = creds {
        options = options.credentials_file(creds)?; // re-read on every reconnect
    }
    if let Some((cert, key)) = client_cert {
        options = options.client_certificate(cert, key); // mutual TLS
    }
    let client = options.connect(&url).await?;
    let info = client.server_info();
    println!(
        "connected to {} over TLS (server requires TLS: {})",
        url, info.tls_required
    );

    let mut sub = client.subscribe("secure.hello").await?;
    client
        .publish("secure.hello", "over TLS, authenticated")
        .await?;
    client.flush().await?;
    if let Some(msg) = sub.next().await {
        println!("{} -> {}", msg.subject, std::str::from_utf8(&msg.payload)?);
    }
    client.close().await;
    Ok(())
}
