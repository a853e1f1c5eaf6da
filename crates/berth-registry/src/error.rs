//! Errors in the OCI distribution wire form:
//! `{"errors":[{"code":"BLOB_UNKNOWN","message":"...","detail":...}]}`.
//!
//! `Code::status` is the one place an error code becomes an HTTP status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The distribution spec's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    Unauthorized,
    Unsupported,
    RangeInvalid,
    TooLarge,
    TooManyRequests,
    PaginationInvalid,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid | Code::RangeInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::TooLarge => "MANIFEST_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::PaginationInvalid => "PAGINATION_NUMBER_INVALID",
            Code::Internal => "UNKNOWN",
        }
    }

    /// The HTTP status for a code (as the reference registry answers).
    pub fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::BlobUploadInvalid
            | Code::DigestInvalid
            | Code::ManifestBlobUnknown
            | Code::ManifestInvalid
            | Code::NameInvalid
            | Code::PaginationInvalid => StatusCode::BAD_REQUEST,
            Code::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Code::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// One error response (boxed: it travels through every handler's `Result`).
#[derive(Debug)]
pub(crate) struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    code: Code,
    message: String,
    detail: serde_json::Value,
    /// Extra headers (`WWW-Authenticate`, `Range`).
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(Inner {
            code,
            message: message.into(),
            detail: serde_json::Value::Null,
            headers: Vec::new(),
        }))
    }

    pub(crate) fn detail(mut self, detail: serde_json::Value) -> ApiError {
        self.0.detail = detail;
        self
    }

    pub(crate) fn header(mut self, name: header::HeaderName, value: HeaderValue) -> ApiError {
        self.0.headers.push((name, value));
        self
    }

    pub(crate) fn internal(msg: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %msg, "registry internal error");
        ApiError::new(Code::Internal, msg.to_string())
    }
}

impl From<berth_image::Error> for ApiError {
    fn from(e: berth_image::Error) -> ApiError {
        match e.kind() {
            berth_stdx::ErrorKind::InvalidArgument => {
                ApiError::new(Code::DigestInvalid, e.to_string())
            }
            berth_stdx::ErrorKind::NotFound => ApiError::new(Code::BlobUnknown, e.to_string()),
            _ => ApiError::internal(e),
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = *self.0;
        let mut entry = serde_json::json!({"code": e.code.as_str(), "message": e.message});
        if !e.detail.is_null() {
            entry["detail"] = e.detail;
        }
        let body = serde_json::json!({ "errors": [entry] }).to_string();
        let mut resp = (
            e.code.status(),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        for (k, v) in e.headers {
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}

pub(crate) type ApiResult<T = Response> = Result<T, ApiError>;
