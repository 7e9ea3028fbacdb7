//! `server.tls`: HTTPS on the listener, the certificate re-read on reload
//! without dropping open connections, and client certificates for ingest.
//! The certificates are test-only fixtures (tests/fixtures/tls/README.md).

use crate::common::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tocsin::server::{ServeOptions, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

fn der(name: &str) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(&pem(name)).unwrap().to_vec()
}

/// A client that trusts the test CA, optionally presenting `identity`
/// (`client` or `rogue-client`).
fn https_client(identity: Option<&str>) -> reqwest::Client {
    tocsin::install_crypto_provider();
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .tls_certs_only([reqwest::Certificate::from_pem(&pem("ca.pem")).unwrap()]);
    if let Some(name) = identity {
        let mut both = pem(&format!("{name}.pem"));
        both.extend(pem(&format!("{name}.key")));
        b = b.identity(reqwest::Identity::from_pem(&both).unwrap());
    }
    b.build().unwrap()
}

/// A raw TLS connection (HTTP/1.1 by ALPN) that stays open, to see the
/// certificate the server presented and to send requests on it later.
async fn tls_connection(
    addr: std::net::SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    tocsin::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der("ca.pem")))
        .unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}

fn presented(conn: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> Vec<u8> {
    conn.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// One keep-alive GET /readyz on an open connection; the status line.
async fn readyz_on(conn: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> String {
    conn.write_all(b"GET /readyz HTTP/1.1\r\nHost: tocsin\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // The body is JSON ending in `}`: read until the answer is whole.
    while !answer.ends_with(b"}") {
        let n = tokio::time::timeout(WAIT, conn.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_renewed_by_reload_keeps_open_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::copy(fixture("server.pem"), &cert).unwrap();
    std::fs::copy(fixture("server.key"), &key).unwrap();
    let path = dir.path().join("tocsin.yaml");
    std::fs::write(
        &path,
        format!(
            "server:\n  tls:\n    cert: {}\n    key: {}\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let server = Server::start(ServeOptions {
        config_path: Some(path.clone()),
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().join("data")),
        clock: None,
    })
    .await
    .unwrap();
    let base = server.base_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let addr: std::net::SocketAddr = base.trim_start_matches("https://").parse().unwrap();

    // HTTPS answers, over HTTP/2 when the client offers it.
    let resp = https_client(None)
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    // Plain HTTP on the TLS port gets no answer.
    assert!(
        client()
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .is_err()
    );

    let mut before = tls_connection(addr).await;
    assert_eq!(presented(&before), der("server.pem"));
    assert_eq!(readyz_on(&mut before).await, "HTTP/1.1 200 OK");

    // Renewed on disk, then reloaded (what SIGHUP does).
    std::fs::copy(fixture("server-renewed.pem"), &cert).unwrap();
    std::fs::copy(fixture("server-renewed.key"), &key).unwrap();
    server.app.reload().await.expect("reload");
    let mut after = tls_connection(addr).await;
    assert_eq!(presented(&after), der("server-renewed.pem"));
    assert_eq!(readyz_on(&mut after).await, "HTTP/1.1 200 OK");
    // The connection made before the reload is still served.
    assert_eq!(readyz_on(&mut before).await, "HTTP/1.1 200 OK");

    // A key that does not fit the certificate: the reload is refused at
    // `server.tls.key` and the running certificate stays.
    std::fs::copy(fixture("client.key"), &key).unwrap();
    let errors = server.app.reload().await.unwrap_err();
    let text: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter().any(|t| t.contains(":4: server.tls.key: ")
            && t.contains("is not the key of the certificate")),
        "{text:?}"
    );
    let still = tls_connection(addr).await;
    assert_eq!(presented(&still), der("server-renewed.pem"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_the_ca_may_ingest_without_a_token_and_nothing_more() {
    let h = Harness::start(&format!(
        "server:\n  api_token: admin-secret\n  ingest_token: producer-secret\n  tls:\n    cert: {}\n    key: {}\n    client_ca: {}\n",
        fixture("server.pem").display(),
        fixture("server.key").display(),
        fixture("ca.pem").display(),
    ))
    .await;
    let base = h.url("");
    let event =
        |id: &str| format!(r#"{{"id":"{id}","product":"Sas","name":"tls","level":"info"}}"#);
    let post = |c: reqwest::Client, id: String| {
        let url = format!("{base}/api/v1/events");
        async move { c.post(url).body(id).send().await }
    };

    let with_cert = https_client(Some("client"));
    let resp = post(with_cert.clone(), event("mtls-1")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    // Reading the history still needs the API token.
    let read = with_cert
        .get(format!("{base}/api/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 401);

    // No certificate: the token rules apply as without TLS.
    let without = https_client(None);
    let resp = post(without.clone(), event("mtls-2")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = without
        .post(format!("{base}/api/v1/events"))
        .bearer_auth("producer-secret")
        .body(event("mtls-3"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);

    // A certificate of another CA: the handshake is refused.
    assert!(
        post(https_client(Some("rogue-client")), event("mtls-4"))
            .await
            .is_err()
    );

    let stored = without
        .get(format!("{base}/api/v1/events"))
        .bearer_auth("admin-secret")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let mut ids: Vec<&str> = stored["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["mtls-1", "mtls-3"]);
}
