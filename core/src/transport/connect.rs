//! Client connectors: a byte stream to the broker a URL names.

#[cfg(feature = "tls")]
use std::sync::Arc;

use tokio::net::TcpStream;

use super::Stream;
use crate::client::{BrokerUrl, Scheme};
use crate::error::{Error, Result};

/// An open connection to a broker.
pub(crate) struct Connected {
    /// The byte stream MQTT runs on.
    pub(crate) stream: Box<dyn Stream>,
    /// The TLS peer certificate (DER), for `mqtts://`.
    pub(crate) peer_certificate: Option<Vec<u8>>,
}

/// TLS settings resolved from the client options.
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
pub(crate) struct TlsSettings {
    pub(crate) config: Arc<rustls::ClientConfig>,
    pub(crate) server_name: rustls::pki_types::ServerName<'static>,
}

/// Opens the transport `url` names: TCP, TLS over TCP with `tls`, WebSocket over either.
pub(crate) async fn connect(
    url: &BrokerUrl,
    #[cfg(feature = "tls")] tls: Option<&TlsSettings>,
    nodelay: bool,
) -> Result<Connected> {
    let tcp = TcpStream::connect(url.authority()).await?;
    tcp.set_nodelay(nodelay)?;
    match url.scheme {
        Scheme::Mqtt => Ok(Connected { stream: Box::new(tcp), peer_certificate: None }),
        #[cfg(feature = "tls")]
        Scheme::Mqtts => {
            let tls = tls.ok_or_else(|| Error::Internal("mqtts:// without a TLS configuration".into()))?;
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(&tls.config));
            let stream = connector.connect(tls.server_name.clone(), tcp).await?;
            let peer_certificate = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|cert| cert.to_vec());
            Ok(Connected { stream: Box::new(stream), peer_certificate })
        }
        #[cfg(feature = "websocket")]
        Scheme::Ws => {
            let stream = super::websocket::client_handshake(&url.to_string(), tcp).await?;
            Ok(Connected { stream: Box::new(stream), peer_certificate: None })
        }
        #[cfg(all(feature = "websocket", feature = "tls"))]
        Scheme::Wss => {
            let tls = tls.ok_or_else(|| Error::Internal("wss:// without a TLS configuration".into()))?;
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(&tls.config));
            let stream = connector.connect(tls.server_name.clone(), tcp).await?;
            let peer_certificate = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|cert| cert.to_vec());
            let stream = super::websocket::client_handshake(&url.to_string(), stream).await?;
            Ok(Connected { stream: Box::new(stream), peer_certificate })
        }
        #[allow(unreachable_patterns)]
        other => {
            Err(Error::InvalidConfiguration(format!("{}:// is not available in this build", other.as_str())))
        }
    }
}
