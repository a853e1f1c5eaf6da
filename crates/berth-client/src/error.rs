//! Client errors, worded as the docker CLI words them.

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing answers on the daemon's socket.
    #[error("Cannot connect to the berth daemon at {host}. Is the berth daemon running?")]
    Connect {
        host: String,
        #[source]
        source: std::io::Error,
    },
    /// The daemon answered with a non-2xx status; `message` is its `{"message": ...}`.
    #[error("Error response from daemon: {message}")]
    Daemon { status: u16, message: String },
    #[error("unable to parse berth host `{0}`")]
    InvalidHost(String),
    /// Transport failure after connecting.
    #[error("error during connect: {0}")]
    Http(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The daemon's body was not the JSON we expected.
    #[error("error decoding daemon response: {0}")]
    Decode(String),
}

impl Error {
    /// The HTTP status, for errors the daemon sent.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Daemon { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the daemon could not be reached at all.
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }

    /// Builds the error for a non-2xx response from its status and body.
    pub(crate) fn from_body(status: u16, body: &[u8]) -> Error {
        #[derive(serde::Deserialize)]
        struct Body {
            message: String,
        }
        let message = match serde_json::from_slice::<Body>(body) {
            Ok(b) => b.message,
            Err(_) => {
                let text = String::from_utf8_lossy(body).trim().to_string();
                if text.is_empty() {
                    http::StatusCode::from_u16(status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("unknown error")
                        .to_string()
                } else {
                    text
                }
            }
        };
        Error::Daemon { status, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_message_is_extracted() {
        let e = Error::from_body(404, br#"{"message":"No such image: x:latest"}"#);
        assert_eq!(
            e.to_string(),
            "Error response from daemon: No such image: x:latest"
        );
        assert_eq!(e.status(), Some(404));
        let e = Error::from_body(500, b"plain text\n");
        assert_eq!(e.to_string(), "Error response from daemon: plain text");
        let e = Error::from_body(502, b"");
        assert_eq!(e.to_string(), "Error response from daemon: Bad Gateway");
    }
}
