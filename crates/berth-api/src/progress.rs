//! The JSON message stream of load/import/pull/push (docker's `jsonmessage`).

use serde::{Deserialize, Serialize};

/// An error sent in-band after a stream has started (HTTP status already 200).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    pub message: String,
}

/// One line of a progress stream. Only the fields that are set are sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(
        rename = "progressDetail",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub progress_detail: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        rename = "errorDetail",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub error_detail: Option<JsonError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
}

impl JsonMessage {
    pub fn stream(s: impl Into<String>) -> Self {
        JsonMessage {
            stream: Some(s.into()),
            ..Default::default()
        }
    }

    pub fn status(s: impl Into<String>) -> Self {
        JsonMessage {
            status: Some(s.into()),
            ..Default::default()
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        let message = message.into();
        JsonMessage {
            error_detail: Some(JsonError {
                code: None,
                message: message.clone(),
            }),
            error: Some(message),
            ..Default::default()
        }
    }

    /// The message as one newline-terminated JSON line.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec());
        v.push(b'\n');
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn shapes() {
        let lines = [
            JsonMessage::stream("Loaded image: busybox:latest\n"),
            JsonMessage::status("sha256:abc"),
            JsonMessage::error("unexpected EOF"),
        ];
        let out: Vec<u8> = lines.iter().flat_map(JsonMessage::to_line).collect();
        expect![[r#"
            {"stream":"Loaded image: busybox:latest\n"}
            {"status":"sha256:abc"}
            {"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}
        "#]]
        .assert_eq(&String::from_utf8(out).unwrap());
    }
}
