//! The TLS configuration handed to reqwest: rustls on the `ring` provider (the workspace's one
//! TLS provider; reqwest's own rustls default would pull aws-lc-sys), certificates checked
//! against the operating system's trust store, so a self-hosted server behind a company CA
//! works as it does for other programs on the machine. No process-wide default is installed.

use std::sync::Arc;

use rustls_platform_verifier::BuilderVerifierExt;

pub(crate) fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    // reqwest is built without HTTP/2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_config_uses_ring() {
        let config = super::client_config().unwrap();
        let ring = rustls::crypto::ring::default_provider();
        let names = |p: &rustls::crypto::CryptoProvider| {
            p.cipher_suites
                .iter()
                .map(|s| format!("{:?}", s.suite()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(config.crypto_provider()), names(&ring));
    }
}
