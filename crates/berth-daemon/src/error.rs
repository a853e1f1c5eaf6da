//! The daemon's one error type: a kind (which decides the HTTP status) and docker's
//! message. Every subsystem error converts into it at the manager boundary.

use berth_stdx::ErrorKind;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Conflict, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotImplemented, message)
    }
}

impl From<berth_image::Error> for Error {
    fn from(e: berth_image::Error) -> Self {
        Error::new(e.kind(), e.to_string())
    }
}

impl From<berth_image::ParseReferenceError> for Error {
    fn from(e: berth_image::ParseReferenceError) -> Self {
        Error::invalid(e.to_string())
    }
}

impl From<berth_api::FilterError> for Error {
    fn from(e: berth_api::FilterError) -> Self {
        Error::invalid(e.to_string())
    }
}

impl From<berth_api::ParseTimestampError> for Error {
    fn from(e: berth_api::ParseTimestampError) -> Self {
        Error::invalid(e.to_string())
    }
}
