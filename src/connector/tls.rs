//! TLS on rustls for the backends that open their own connections: which certificates are
//! trusted, how much of the server's certificate is checked, the client's certificate, and
//! errors that say what to change. Each backend maps its own modes (libpq's `sslmode`,
//! MySQL's `ssl-mode`) onto a [`TlsSpec`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Nothing: the connection is encrypted, but the server is not authenticated.
    Nothing,
    /// The chain up to a trusted CA, not the host name.
    Chain,
    /// The chain and the host name (or IP address) connected to.
    Full,
}

/// Where the trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// A PEM file of one or more certificates.
    File(PathBuf),
    /// The operating system's trusted roots.
    System,
}

/// What a backend's options ask of one TLS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsSpec {
    /// How much is checked.
    pub(crate) verify: Verify,
    /// The trusted CAs (required unless `verify` is [`Verify::Nothing`]).
    pub(crate) roots: Option<Roots>,
    /// The client's certificate chain and key (PEM files), for servers that ask for one.
    pub(crate) client: Option<(PathBuf, PathBuf)>,
}

/// Makes ring the process's default rustls provider, for drivers that ask rustls for the
/// default (mysql_async); a provider installed before stays.
// A build with one backend uses only part of this module.
#[allow(dead_code)]
pub(crate) fn install_default_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the {what} `{}`: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "the {what} `{}` holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}

impl TlsSpec {
    /// The rustls client configuration; an error names the file that could not be used.
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let webpki = match (self.verify, &self.roots) {
            (Verify::Nothing, _) => None,
            (_, roots) => {
                let mut store = RootCertStore::empty();
                match roots {
                    Some(Roots::File(path)) => {
                        for cert in read_certs(path, "root certificate file")? {
                            store.add(cert).map_err(|e| {
                                format!(
                                    "the root certificate file `{}` holds a certificate that \
                                     cannot be used: {e}",
                                    path.display()
                                )
                            })?;
                        }
                    }
                    Some(Roots::System) => {
                        let found = rustls_native_certs::load_native_certs();
                        let (added, _) = store.add_parsable_certificates(found.certs);
                        if added == 0 {
                            return Err("no trusted root certificates were found on this system: \
                                 give a CA file instead"
                                .into());
                        }
                    }
                    None => return Err("no root certificates to verify the server with".into()),
                }
                Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                        .build()
                        .map_err(|e| e.to_string())?,
                )
            }
        };
        let verifier = Arc::new(Verifier {
            provider: provider.clone(),
            webpki,
            names: self.verify == Verify::Full,
        });
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = read_certs(cert, "client certificate file")?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    format!(
                        "cannot read the client key file `{}` (a PEM private key, not \
                         encrypted): {e}",
                        key.display()
                    )
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("the client certificate and key do not match: {e}"))?
            }
        };
        Ok(Arc::new(config))
    }
}

/// What to tell a user whose handshake with `host` failed with `e`.
pub(crate) fn describe(e: &rustls::Error, host: &str, name_option: &str) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "the server's certificate does not name `{host}`: connect with a host name \
                     the certificate names, or check only the CA with {name_option}"
                )
            }
            CertificateError::UnknownIssuer => format!(
                "the server's certificate is not signed by a trusted CA: give the CA that \
                 signed it ({e})"
            ),
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => format!(
                "the server's certificate is outside its validity period (check the server's \
                 certificate and this machine's clock): {e}"
            ),
            _ => format!("the server's certificate was refused: {e}"),
        },
        rustls::Error::AlertReceived(alert) => format!(
            "the server ended the TLS handshake ({alert:?}): check the client certificate and \
             key, and the TLS versions the server accepts"
        ),
        other => format!("TLS handshake failed: {other}"),
    }
}

/// The rustls error inside an I/O error from a handshake, if it holds one.
pub(crate) fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// The `tls-server-end-point` channel binding of RFC 5929 for the server's certificate `der`:
/// its hash with the hash function of its signature (SHA-256 for MD5 and SHA-1). `None` when
/// the signature algorithm names no hash (Ed25519) or the certificate cannot be read.
// A build with one backend uses only part of this module.
#[allow(dead_code)]
pub(crate) fn tls_server_end_point(der: &[u8]) -> Option<Vec<u8>> {
    let oid = signature_algorithm(der)?;
    // 1.2.840.113549.1.1.{4,5,11,12,13}: RSA with MD5, SHA-1, SHA-256, SHA-384, SHA-512;
    // 1.2.840.10045.4.{1,3.2,3.3,3.4}: ECDSA with SHA-1, SHA-256, SHA-384, SHA-512.
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    let algorithm = match oid {
        [p @ .., last] if p == RSA => match last {
            4 | 5 | 11 => &ring::digest::SHA256,
            12 => &ring::digest::SHA384,
            13 => &ring::digest::SHA512,
            _ => return None,
        },
        [p @ .., 1] if p == ECDSA => &ring::digest::SHA256,
        [p @ .., 3, n] if p == ECDSA => match n {
            2 => &ring::digest::SHA256,
            3 => &ring::digest::SHA384,
            4 => &ring::digest::SHA512,
            _ => return None,
        },
        _ => return None,
    };
    Some(ring::digest::digest(algorithm, der).as_ref().to_vec())
}

/// One DER element at the start of `b`: (tag, contents, rest).
// A build with one backend uses only part of this module.
#[allow(dead_code)]
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, mut b) = b.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n]
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | x as usize);
        b = &b[n..];
        len
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// The OID of a certificate's `signatureAlgorithm` (the element after `tbsCertificate`).
// A build with one backend uses only part of this module.
#[allow(dead_code)]
fn signature_algorithm(cert: &[u8]) -> Option<&[u8]> {
    let (0x30, body, _) = der(cert)? else {
        return None;
    };
    let (0x30, _tbs, rest) = der(body)? else {
        return None;
    };
    let (0x30, algorithm, _) = der(rest)? else {
        return None;
    };
    let (0x06, oid, _) = der(algorithm)? else {
        return None;
    };
    Some(oid)
}

/// Checks the server's certificate as [`Verify`] says: nothing (encryption without
/// authentication), the chain only (libpq's `verify-ca`, MySQL's `VERIFY_CA`: webpki checks
/// the chain before the name, so a name error means the chain was good), or both. The
/// handshake's signatures are always checked: the server must hold the key of the certificate
/// it sent.
#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    /// `None`: nothing is checked.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// Whether the certificate must name the host.
    names: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.names => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls server name for `host` (a DNS name or an IP address).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|_| format!("`{host}` is not a host name TLS can verify"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let spec = TlsSpec {
            verify: Verify::Full,
            roots: Some(Roots::File("/nonexistent/ca.pem".into())),
            client: None,
        };
        let err = spec.client_config().unwrap_err();
        assert!(
            err.contains("root certificate file `/nonexistent/ca.pem`"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let spec = TlsSpec {
            verify: Verify::Chain,
            roots: Some(Roots::File(empty)),
            client: None,
        };
        assert!(spec
            .client_config()
            .unwrap_err()
            .contains("holds no PEM certificate"));
        let spec = TlsSpec {
            verify: Verify::Nothing,
            roots: None,
            client: Some(("/nonexistent/c.pem".into(), "/nonexistent/c.key".into())),
        };
        assert!(spec
            .client_config()
            .unwrap_err()
            .contains("client certificate file `/nonexistent/c.pem`"));
        assert!(TlsSpec {
            verify: Verify::Nothing,
            roots: None,
            client: None
        }
        .client_config()
        .is_ok());
    }

    #[test]
    fn der_walk_finds_the_signature_algorithm() {
        // SEQUENCE { SEQUENCE {} , SEQUENCE { OID 1.2.840.10045.4.3.2 } }
        let cert = [
            0x30, 0x0e, 0x30, 0x00, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04,
            0x03, 0x02,
        ];
        assert_eq!(
            signature_algorithm(&cert),
            Some(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02][..])
        );
        let binding = tls_server_end_point(&cert).unwrap();
        assert_eq!(binding.len(), 32);
        assert_eq!(tls_server_end_point(&cert[..5]), None);
        assert_eq!(tls_server_end_point(&[]), None);
        assert_eq!(tls_server_end_point(&[0x30, 0x85, 1, 2, 3, 4, 5]), None);
    }

    #[test]
    fn server_names() {
        assert!(matches!(
            server_name("127.0.0.1").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("localhost").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(server_name("/var/run/postgresql").is_err());
    }
}
