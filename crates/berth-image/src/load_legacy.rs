//! Archives from Docker before 1.10: no `manifest.json`, a `repositories` file
//! (`{"repo":{"tag":"<v1 id>"}}`) and one `<v1 id>/{json,layer.tar}` per layer, each
//! `json` naming its `parent`. As docker's legacy loader does, the image config is
//! the top layer's v1 JSON without the v1 bookkeeping keys, plus `rootfs` (the layers'
//! uncompressed digests) and `history` (one entry per v1 layer).

use super::{LayerSource, PlannedImage, Planner, merge};
use crate::config::ImageConfig;
use crate::error::{Error, Result};
use crate::reference::{Reference, is_full_hex_id};
use berth_stdx::Digest;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Keys of a v1 layer JSON that are not part of an image config.
const V1_ONLY: [&str; 6] = ["id", "parent", "Size", "parent_id", "layer_id", "throwaway"];

impl Planner<'_> {
    pub(super) fn plan_legacy(&mut self) -> Result<Vec<PlannedImage>> {
        let repos: BTreeMap<String, BTreeMap<String, String>> =
            serde_json::from_slice(&self.spool.small["repositories"])
                .map_err(|e| Error::invalid(format!("load: invalid repositories file: {e}")))?;
        let mut tops: Vec<(String, Vec<Reference>)> = Vec::new();
        for (repo, tags) in &repos {
            for (tag, top) in tags {
                let r = Reference::parse(&format!("{repo}:{tag}"))
                    .map_err(|e| Error::invalid(format!("load: invalid tag {repo}:{tag}: {e}")))?;
                match tops.iter_mut().find(|(t, _)| t == top) {
                    Some((_, refs)) => refs.push(r),
                    None => tops.push((top.clone(), vec![r])),
                }
            }
        }
        let mut plans = Vec::new();
        for (top, tags) in tops {
            let plan = self.plan_legacy_image(&top, tags)?;
            merge(&mut plans, plan);
        }
        Ok(plans)
    }

    fn plan_legacy_image(&mut self, top: &str, tags: Vec<Reference>) -> Result<PlannedImage> {
        let name = tags.first().map(Reference::familiar).unwrap_or_default();
        // Walk from the top layer to the base through `parent`.
        let mut chain: Vec<(String, Map<String, Value>)> = Vec::new();
        let mut cur = Some(top.to_string());
        while let Some(id) = cur {
            if !is_full_hex_id(&id) || chain.len() > 1000 {
                return Err(Error::invalid(format!(
                    "load: invalid layer id {id:?} in {name}"
                )));
            }
            let json_name = format!("{id}/json");
            let key = self
                .spool
                .resolve(&json_name)
                .ok_or_else(|| super::missing(&json_name))?;
            let v: Value = serde_json::from_slice(&self.spool.read(&key)?)
                .map_err(|e| Error::invalid(format!("load: invalid {json_name}: {e}")))?;
            let Value::Object(obj) = v else {
                return Err(Error::invalid(format!("load: invalid {json_name}")));
            };
            cur = obj
                .get("parent")
                .and_then(Value::as_str)
                .map(str::to_string);
            chain.push((id, obj));
        }
        chain.reverse();

        let mut diff_ids = Vec::new();
        let mut layers = Vec::new();
        let mut history = Vec::new();
        for (i, (id, obj)) in chain.iter().enumerate() {
            let layer_name = format!("{id}/layer.tar");
            let key = self
                .spool
                .resolve(&layer_name)
                .ok_or_else(|| super::missing(&layer_name))?;
            let label = format!("layer {} of {name}", i + 1);
            let (diff, src): (Digest, LayerSource) = self.layer_digest(&key, &label)?;
            diff_ids.push(Value::String(diff.to_string()));
            layers.push((diff, src));
            let mut h = Map::new();
            for k in ["created", "author"] {
                if let Some(v) = obj
                    .get(k)
                    .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                {
                    h.insert(k.to_string(), v.clone());
                }
            }
            let cmd: Vec<&str> = obj
                .get("container_config")
                .and_then(|c| c.get("Cmd"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !cmd.is_empty() {
                h.insert("created_by".into(), Value::String(cmd.join(" ")));
            }
            if let Some(c) = obj
                .get("comment")
                .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            {
                h.insert("comment".into(), c.clone());
            }
            history.push(Value::Object(h));
        }
        let (_, top_obj) = chain
            .last()
            .ok_or_else(|| Error::invalid("load: empty layer chain"))?;
        // Sorted keys, as Go marshals a map.
        let mut config: BTreeMap<String, Value> = top_obj
            .iter()
            .filter(|(k, _)| !V1_ONLY.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut rootfs = Map::new();
        rootfs.insert("type".into(), Value::String("layers".into()));
        rootfs.insert("diff_ids".into(), Value::Array(diff_ids));
        config.insert("rootfs".into(), Value::Object(rootfs));
        config.insert("history".into(), Value::Array(history));
        let bytes = serde_json::to_vec(&config)
            .map_err(|e| Error::Internal(format!("encode legacy config: {e}")))?;
        let parsed: ImageConfig = serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(format!("load: invalid image config for {name}: {e}")))?;
        Ok(PlannedImage {
            id: Digest::sha256_of(&bytes),
            config_key: String::new(),
            config_bytes: Some(bytes),
            config: parsed,
            layers,
            tags,
            manifest: None,
        })
    }
}
