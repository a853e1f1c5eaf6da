//! The builder's errors. Messages are docker's where docker has one.

use berth_stdx::ErrorKind;

use crate::parser::ParseError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// Bad input found while building (a missing file, a bad flag value).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// A RUN step exited non-zero (docker's wording; `code` goes in `errorDetail`).
    #[error("The command '{cmd}' returned a non-zero code: {code}")]
    RunFailed { cmd: String, code: i32 },
    #[error("{0}")]
    Internal(String),
    #[error("build cancelled")]
    Cancelled,
}

impl BuildError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            BuildError::Parse(_) | BuildError::Invalid(_) => ErrorKind::InvalidArgument,
            BuildError::NotFound(_) => ErrorKind::NotFound,
            BuildError::RunFailed { .. } | BuildError::Internal(_) | BuildError::Cancelled => {
                ErrorKind::Internal
            }
        }
    }

    /// The `errorDetail.code` docker sends (the exit code of a failed RUN).
    pub fn code(&self) -> Option<i32> {
        match self {
            BuildError::RunFailed { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn io(what: &str, e: std::io::Error) -> BuildError {
        BuildError::Internal(format!("{what}: {e}"))
    }
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;
