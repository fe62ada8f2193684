//! Opening a connection: TCP, TLS or STARTTLS (rustls with ring), the greeting, and LOGIN.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_imap::Client;
use async_imap::imap_proto::{Response, Status};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::config::{ConfigError, ImapConfig, Password, TlsMode};
use crate::conn::{Conn, describe};
use crate::error::ImapError;

/// Plain TCP or TLS, behind one type.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Transport for T {}
pub(crate) type Stream = Box<dyn Transport>;

/// Everything needed to open a connection, prepared once (the CA file is read here).
pub(crate) struct Connector {
    host: String,
    port: u16,
    user: String,
    protection: Protection,
    timeout: Duration,
}

/// `tls` with what it needs.
enum Protection {
    None,
    Starttls(TlsConnector, ServerName<'static>),
    Tls(TlsConnector, ServerName<'static>),
}

impl Connector {
    pub(crate) fn new(config: &ImapConfig) -> Result<Self, ImapError> {
        let host = bare_host(&config.host).to_owned();
        let name = || {
            ServerName::try_from(host.clone()).map_err(|e| ConfigError {
                field: "host",
                message: format!("{:?} is not a valid TLS server name: {e}", config.host),
            })
        };
        let protection = match config.tls {
            TlsMode::None => Protection::None,
            TlsMode::Starttls => Protection::Starttls(tls_connector(config)?, name()?),
            TlsMode::Tls => Protection::Tls(tls_connector(config)?, name()?),
        };
        Ok(Connector {
            host,
            port: config.effective_port(),
            user: config.user.clone(),
            protection,
            timeout: config.timeout(),
        })
    }

    /// Connects, protects the connection as configured, reads the greeting and logs in.
    pub(crate) async fn connect(&self, password: &Password) -> Result<Conn, ImapError> {
        let tcp = self
            .bounded(
                "connect",
                TcpStream::connect((self.host.as_str(), self.port)),
            )
            .await?
            .map_err(|source| ImapError::Connect {
                addr: format!("{}:{}", self.host, self.port),
                source,
            })?;
        // Best effort: commands are small and interactive.
        let _ = tcp.set_nodelay(true);
        let client: Client<Stream> = match &self.protection {
            Protection::None => {
                let mut client = Client::new(Box::new(tcp) as Stream);
                self.greeting(&mut client).await?;
                client
            }
            Protection::Tls(connector, name) => {
                let tls = self.handshake(connector, name, tcp).await?;
                let mut client = Client::new(Box::new(tls) as Stream);
                self.greeting(&mut client).await?;
                client
            }
            Protection::Starttls(connector, name) => {
                let mut client = Client::new(tcp);
                self.greeting(&mut client).await?;
                match self
                    .bounded(
                        "STARTTLS",
                        client.run_command_and_check_ok("STARTTLS", None),
                    )
                    .await?
                {
                    Ok(()) => {}
                    Err(async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_)) => {
                        return Err(ImapError::StarttlsUnavailable {
                            host: self.host.clone(),
                        });
                    }
                    Err(e) => return Err(ImapError::protocol("STARTTLS", e)),
                }
                // Whatever the server sent after its STARTTLS answer, unencrypted, is discarded
                // with the old client (RFC 3501 §6.2.1: a client must not act on it).
                let tls = self.handshake(connector, name, client.into_inner()).await?;
                Client::new(Box::new(tls) as Stream)
            }
        };
        let session = match self
            .bounded("LOGIN", client.login(&self.user, password.expose()))
            .await?
        {
            Ok(session) => session,
            Err((async_imap::error::Error::No(message), _))
            | Err((async_imap::error::Error::Bad(message), _)) => {
                return Err(ImapError::Auth {
                    user: self.user.clone(),
                    message: crate::error::server_text(&message),
                });
            }
            Err((e, _)) => return Err(ImapError::protocol("LOGIN", e)),
        };
        Conn::open(session, self.timeout).await
    }

    async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug>(
        &self,
        client: &mut Client<T>,
    ) -> Result<(), ImapError> {
        let greeting = self
            .bounded("greeting", client.read_response())
            .await?
            .map_err(|e| ImapError::protocol("greeting", e.into()))?
            .ok_or(ImapError::ConnectionLost {
                command: "greeting",
            })?;
        match greeting.parsed() {
            Response::Data {
                status: Status::Ok | Status::PreAuth,
                ..
            } => Ok(()),
            Response::Data { status, outcome } => Err(ImapError::Refused {
                command: "greeting",
                message: describe(status, outcome),
            }),
            _ => Err(ImapError::Refused {
                command: "greeting",
                message: "not an IMAP greeting".to_owned(),
            }),
        }
    }

    async fn handshake(
        &self,
        connector: &TlsConnector,
        name: &ServerName<'static>,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
        self.bounded("TLS handshake", connector.connect(name.clone(), tcp))
            .await?
            .map_err(|e| {
                let refused = e
                    .get_ref()
                    .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
                if refused {
                    ImapError::Tls {
                        host: self.host.clone(),
                        message: e.to_string(),
                    }
                } else {
                    ImapError::Connect {
                        addr: format!("{}:{}", self.host, self.port),
                        source: e,
                    }
                }
            })
    }

    async fn bounded<F: Future>(
        &self,
        command: &'static str,
        f: F,
    ) -> Result<F::Output, ImapError> {
        tokio::time::timeout(self.timeout, f)
            .await
            .map_err(|_| ImapError::Timeout {
                command,
                secs: self.timeout.as_secs(),
            })
    }
}

/// The trust anchors: the configured CA file, or else Mozilla's roots compiled into the binary.
fn tls_connector(config: &ImapConfig) -> Result<TlsConnector, ImapError> {
    let mut roots = RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            let ca_error = |message: String| ImapError::CaFile {
                path: path.display().to_string(),
                message,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| ca_error(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ca_error(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca_error("no PEM certificate in the file".to_owned()));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| ca_error(format!("unusable certificate: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::Tls {
            host: config.host.clone(),
            message: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(tls)))
}

/// `[::1]` → `::1`; anything else unchanged.
fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}
