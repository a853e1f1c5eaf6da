//! `GET /events` messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Who an event is about: an id and free-form attributes (`name`, labels, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventActor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// One event, as dockerd streams it. `status`/`id`/`from` are the deprecated legacy
/// fields dockerd still fills for container and image events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: EventActor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl EventMessage {
    /// An event of `typ` ("image", "container", ...) at `time_nano` (unix nanoseconds),
    /// with the legacy fields filled as dockerd does for images and containers.
    pub fn new(typ: &str, action: &str, actor: EventActor, time_nano: i64) -> Self {
        let legacy = matches!(typ, "image" | "container");
        EventMessage {
            status: legacy.then(|| action.to_string()),
            id: legacy.then(|| actor.id.clone()),
            from: if typ == "container" {
                actor.attributes.get("image").cloned()
            } else {
                None
            },
            typ: typ.to_string(),
            action: action.to_string(),
            actor,
            scope: "local".to_string(),
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn image_event_shape() {
        let mut attributes = BTreeMap::new();
        attributes.insert("name".to_string(), "busybox:latest".to_string());
        let actor = EventActor {
            id: "sha256:abc".into(),
            attributes,
        };
        let ev = EventMessage::new("image", "tag", actor, 1_700_000_000_123_456_789);
        expect![[r#"{"status":"tag","id":"sha256:abc","Type":"image","Action":"tag","Actor":{"ID":"sha256:abc","Attributes":{"name":"busybox:latest"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}"#]]
            .assert_eq(&serde_json::to_string(&ev).unwrap());
    }
}
