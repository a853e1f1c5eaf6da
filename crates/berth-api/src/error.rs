//! The error body every failing Engine API call returns.

use serde::{Deserialize, Serialize};

/// `{"message": "..."}`, as dockerd sends with every 4xx/5xx status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub message: String,
}

impl ErrorResponse {
    pub fn new(message: impl Into<String>) -> Self {
        ErrorResponse {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn error_body_shape() {
        let body = serde_json::to_string(&ErrorResponse::new("No such image: foo:latest")).unwrap();
        expect![[r#"{"message":"No such image: foo:latest"}"#]].assert_eq(&body);
    }
}
