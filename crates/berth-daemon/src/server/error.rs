//! Error responses: the one place an error kind becomes an HTTP status.

use axum::response::{IntoResponse, Response};
use berth_api::ErrorResponse;
use berth_stdx::ErrorKind;
use http::StatusCode;

use crate::error::Error;

/// The only mapping from an error kind to an HTTP status (dockerd's `httpstatus`).
pub fn status_for(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotModified => StatusCode::NOT_MODIFIED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"message": ...}` with the status of the error's kind.
pub fn error_response(err: &Error) -> Response {
    let status = status_for(err.kind);
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), "{}", err.message);
    } else {
        tracing::debug!(status = status.as_u16(), "{}", err.message);
    }
    (status, axum::Json(ErrorResponse::new(err.message.clone()))).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_dockers_statuses() {
        assert_eq!(status_for(ErrorKind::NotFound), 404);
        assert_eq!(status_for(ErrorKind::InvalidArgument), 400);
        assert_eq!(status_for(ErrorKind::Conflict), 409);
        assert_eq!(status_for(ErrorKind::Internal), 500);
        assert_eq!(status_for(ErrorKind::NotImplemented), 501);
    }
}
