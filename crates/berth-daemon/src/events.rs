//! The event bus: live subscribers via a broadcast channel, plus a bounded ring of
//! recent events so `GET /events?since=` can replay the past.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use berth_api::{EventActor, EventMessage, Filters};
use tokio::sync::broadcast;

/// How many past events are kept for `since` queries (dockerd keeps 256).
const RING_CAPACITY: usize = 1000;

#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

struct Inner {
    tx: broadcast::Sender<EventMessage>,
    ring: Mutex<VecDeque<EventMessage>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(256);
        EventBus {
            inner: Arc::new(Inner {
                tx,
                ring: Mutex::new(VecDeque::with_capacity(64)),
            }),
        }
    }

    /// Records and broadcasts an event stamped now. Callable from blocking code.
    pub fn publish(&self, typ: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) {
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or_default();
        let ev = EventMessage::new(
            typ,
            action,
            EventActor {
                id: id.to_string(),
                attributes,
            },
            nanos,
        );
        {
            let mut ring = self.inner.ring.lock().unwrap_or_else(|e| e.into_inner());
            // Keep the ring ordered even if the clock steps back.
            let last = ring.back().map(|e| e.time_nano).unwrap_or(i64::MIN);
            let ev_ordered = if ev.time_nano < last {
                let mut e = ev.clone();
                e.time_nano = last;
                e.time = last.div_euclid(1_000_000_000);
                e
            } else {
                ev.clone()
            };
            if ring.len() == RING_CAPACITY {
                ring.pop_front();
            }
            ring.push_back(ev_ordered);
        }
        // No subscriber is not an error.
        let _ = self.inner.tx.send(ev);
    }

    /// An image event with dockerd's actor: the image id, `name` and the image's labels.
    pub fn image(
        &self,
        action: &str,
        id: &str,
        name: &str,
        labels: Option<&BTreeMap<String, String>>,
    ) {
        let mut attrs = labels.cloned().unwrap_or_default();
        if !name.is_empty() {
            attrs.insert("name".to_string(), name.to_string());
        }
        self.publish("image", action, id, attrs);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EventMessage> {
        self.inner.tx.subscribe()
    }

    pub fn listeners(&self) -> usize {
        self.inner.tx.receiver_count()
    }

    /// Buffered events with `since <= time <= until` (nanoseconds; `None` = unbounded)
    /// that match `filter`, oldest first. Like dockerd, nothing is replayed when
    /// neither bound is given.
    pub fn past(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        filter: &EventFilter,
    ) -> Vec<EventMessage> {
        if since.is_none() && until.is_none() {
            return Vec::new();
        }
        let ring = self.inner.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter()
            .filter(|e| since.is_none_or(|s| e.time_nano >= s))
            .filter(|e| until.is_none_or(|u| e.time_nano <= u))
            .filter(|e| filter.matches(e))
            .cloned()
            .collect()
    }
}

/// The filter keys dockerd accepts on `/events`.
pub const EVENT_FILTERS: &[&str] = &[
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// docker's event filter semantics over a parsed `filters` parameter.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    f: Filters,
}

impl EventFilter {
    pub fn new(f: Filters) -> Self {
        EventFilter { f }
    }

    pub fn matches(&self, ev: &EventMessage) -> bool {
        let f = &self.f;
        let attrs = &ev.actor.attributes;
        let scope_ok = !f.contains("scope") || f.exact_match("scope", &ev.scope);
        let action_ok = f.exact_match("event", &ev.action)
            || ev
                .action
                .split_once(':')
                .is_some_and(|(a, _)| f.exact_match("event", a));
        scope_ok
            && f.exact_match("type", &ev.typ)
            && action_ok
            && f.match_labels("label", attrs)
            && self.match_image(ev)
            && self.match_named("container", "container", ev)
            && self.match_named("volume", "volume", ev)
            && self.match_named("network", "network", ev)
            && self.match_named("plugin", "plugin", ev)
            && self.match_named("config", "config", ev)
            && self.match_named("secret", "secret", ev)
            && self.match_named("service", "service", ev)
            && self.match_named("node", "node", ev)
            && (!f.contains("daemon")
                || ev.typ == "daemon" && self.match_named("daemon", "daemon", ev))
    }

    fn match_named(&self, key: &str, typ: &str, ev: &EventMessage) -> bool {
        if !self.f.contains(key) {
            return true;
        }
        ev.typ == typ
            && (self.f.exact_match(key, &ev.actor.id)
                || ev
                    .actor
                    .attributes
                    .get("name")
                    .is_some_and(|n| self.f.exact_match(key, n)))
    }

    fn match_image(&self, ev: &EventMessage) -> bool {
        if !self.f.contains("image") {
            return true;
        }
        let name_attr = if ev.typ == "image" { "name" } else { "image" };
        let name = ev
            .actor
            .attributes
            .get(name_attr)
            .map(String::as_str)
            .unwrap_or("");
        let id = ev.actor.id.as_str();
        [id, name, strip_tag(id), strip_tag(name)]
            .iter()
            .any(|v| !v.is_empty() && self.f.exact_match("image", v))
    }
}

/// `busybox:latest` -> `busybox`; `localhost:5000/a` stays (the colon is the port).
fn strip_tag(s: &str) -> &str {
    let s = s.split_once('@').map(|(a, _)| a).unwrap_or(s);
    match s.rfind(':') {
        Some(i) if !s[i..].contains('/') => &s[..i],
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bus_with_events() -> EventBus {
        let bus = EventBus::new();
        bus.image("tag", "sha256:aa", "busybox:latest", None);
        bus.image("delete", "sha256:bb", "sha256:bb", None);
        bus
    }

    #[test]
    fn past_requires_a_bound_and_filters() {
        let bus = bus_with_events();
        let all = EventFilter::default();
        assert!(bus.past(None, None, &all).is_empty());
        assert_eq!(bus.past(Some(0), None, &all).len(), 2);
        let f = EventFilter::new(Filters::parse(r#"{"event":["tag"]}"#).unwrap());
        let got = bus.past(Some(0), None, &f);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].action, "tag");
        assert!(bus.past(Some(0), Some(0), &all).is_empty());
    }

    #[test]
    fn image_filter_matches_name_without_tag_and_id() {
        let bus = bus_with_events();
        for (filter, n) in [
            (r#"{"image":["busybox"]}"#, 1),
            (r#"{"image":["busybox:latest"]}"#, 1),
            (r#"{"image":["sha256:bb"]}"#, 1),
            (r#"{"type":["container"]}"#, 0),
            (r#"{"type":["image"]}"#, 2),
            (r#"{"container":["x"]}"#, 0),
        ] {
            let f = EventFilter::new(Filters::parse(filter).unwrap());
            assert_eq!(bus.past(Some(0), None, &f).len(), n, "{filter}");
        }
    }

    #[test]
    fn ring_is_bounded() {
        let bus = EventBus::new();
        for _ in 0..RING_CAPACITY + 10 {
            bus.publish("image", "tag", "x", BTreeMap::new());
        }
        assert_eq!(
            bus.past(Some(0), None, &EventFilter::default()).len(),
            RING_CAPACITY
        );
    }

    #[test]
    fn strip_tag_keeps_ports() {
        assert_eq!(strip_tag("busybox:1"), "busybox");
        assert_eq!(strip_tag("localhost:5000/a"), "localhost:5000/a");
        assert_eq!(strip_tag("localhost:5000/a:v1"), "localhost:5000/a");
    }
}
