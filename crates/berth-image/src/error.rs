//! The crate's error type. Every error maps to a [`berth_stdx::ErrorKind`]; messages
//! are one lowercase line naming what failed (docker's own wording where docker has one).

use berth_stdx::ErrorKind;
use std::io;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Docker's wording: `No such image: busybox:latest`.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Reference(#[from] crate::reference::ParseReferenceError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoSuchImage(_) | Error::NotFound(_) => ErrorKind::NotFound,
            Error::InvalidArgument(_) | Error::Reference(_) => ErrorKind::InvalidArgument,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Io { source, .. } => match ErrorKind::from_io(source) {
                // A missing file inside our own store is our bug, not the user's 404.
                ErrorKind::NotFound | ErrorKind::Conflict => ErrorKind::Internal,
                k => k,
            },
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidArgument(msg.into())
    }
}

/// Adds context to I/O results: `f.read(..).ctx("read config")?`.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(context(), e))
    }
}
