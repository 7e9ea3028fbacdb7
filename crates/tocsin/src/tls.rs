//! TLS on the listener (`server.tls`): the certificate and key files read
//! into a rustls server config, and, with `client_ca`, client certificates
//! verified against that CA.
//!
//! The files are read when the config is loaded (start, SIGHUP, `check`),
//! so a renewed certificate is picked up by a reload, a broken one refuses
//! the reload like any other config error (the running certificate stays),
//! and connections already open keep the session they made: the listener
//! takes the config current at each accept.
//!
//! A client certificate is optional in the handshake; a request that came
//! with one the CA verified may ingest without a token (producers that can
//! do mTLS but not tokens). Everything else still needs its token.

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `server.tls` as configured, with what its files held.
#[derive(Clone)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
    /// The rustls config built from the files when they were loaded.
    pub server_config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("client_ca", &self.client_ca)
            .finish_non_exhaustive()
    }
}

/// Two loads of the same files compare equal: what a config holds is its
/// paths; the material is whatever they held when loaded.
impl PartialEq for TlsSettings {
    fn eq(&self, other: &Self) -> bool {
        self.cert == other.cert && self.key == other.key && self.client_ca == other.client_ca
    }
}

/// What is wrong with one of the files, and which key of `server.tls` it is.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TlsFileError {
    /// `cert`, `key` or `client_ca`.
    pub key: &'static str,
    pub message: String,
}

fn file_error(key: &'static str, path: &Path, what: impl fmt::Display) -> TlsFileError {
    TlsFileError {
        key,
        message: format!("{}: {what}", path.display()),
    }
}

fn read_certs(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let bytes = std::fs::read(path).map_err(|e| file_error(key, path, e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(key, path, format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(file_error(
            key,
            path,
            "holds no certificate (expected -----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

/// Reads the files and builds the server config. HTTP/2 and HTTP/1.1 are
/// offered by ALPN, as on plain connections.
pub fn load(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<TlsSettings, TlsFileError> {
    let chain = read_certs("cert", cert)?;
    let key_bytes = std::fs::read(key).map_err(|e| file_error("key", key, e))?;
    let private_key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
        file_error(
            "key",
            key,
            format!("no PEM private key (PKCS#8, PKCS#1 or SEC1) in it ({e})"),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| file_error("cert", cert, e))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in read_certs("client_ca", ca)? {
                roots.add(c).map_err(|e| {
                    file_error(
                        "client_ca",
                        ca,
                        format!("not a usable CA certificate ({e})"),
                    )
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| file_error("client_ca", ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, private_key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => file_error(
                "key",
                key,
                format!("is not the key of the certificate in {}", cert.display()),
            ),
            e => file_error("key", key, e),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsSettings {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        client_ca: client_ca.map(Path::to_path_buf),
        server_config: Arc::new(config),
    })
}

/// Put on every request of a connection whose client presented a
/// certificate the configured CA verified (the handshake refuses one it
/// does not verify). Holds the SHA-256 of the leaf certificate, for logs.
#[derive(Clone, Debug)]
pub struct VerifiedClient {
    pub fingerprint: String,
}

impl VerifiedClient {
    pub fn of(leaf: &CertificateDer<'_>) -> VerifiedClient {
        use sha2::Digest as _;
        VerifiedClient {
            fingerprint: hex::encode(sha2::Sha256::digest(leaf.as_ref())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    #[test]
    fn loads_a_matching_pair_with_and_without_a_client_ca() {
        let t = load(&fixture("server.pem"), &fixture("server.key"), None).unwrap();
        assert_eq!(t.server_config.alpn_protocols[0], b"h2");
        load(
            &fixture("server.pem"),
            &fixture("server.key"),
            Some(&fixture("ca.pem")),
        )
        .unwrap();
    }

    #[test]
    fn each_broken_file_is_named_with_its_key() {
        let missing = load(&fixture("nope.pem"), &fixture("server.key"), None).unwrap_err();
        assert_eq!(missing.key, "cert");
        assert!(missing.message.contains("nope.pem"), "{missing}");

        let swapped = load(&fixture("server.key"), &fixture("server.key"), None).unwrap_err();
        assert_eq!(swapped.key, "cert");
        assert!(
            swapped.message.contains("holds no certificate"),
            "{swapped}"
        );

        let wrong_key = load(&fixture("server.pem"), &fixture("client.key"), None).unwrap_err();
        assert_eq!(wrong_key.key, "key");
        assert!(
            wrong_key
                .message
                .contains("is not the key of the certificate"),
            "{wrong_key}"
        );

        let no_key = load(&fixture("server.pem"), &fixture("server.pem"), None).unwrap_err();
        assert_eq!(no_key.key, "key");

        let bad_ca = load(
            &fixture("server.pem"),
            &fixture("server.key"),
            Some(&fixture("server.key")),
        )
        .unwrap_err();
        assert_eq!(bad_ca.key, "client_ca");
    }
}
