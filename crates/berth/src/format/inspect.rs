//! What every `inspect` command prints for the daemon's JSON bodies: one indented JSON
//! array (Go's `json.Indent` with four spaces), or a `--format` template run on each
//! object, the way docker's template inspector runs it.

use super::template::Format;
use crate::usage::Exit;
use serde_json::Value;

/// `--format` of an inspect command: none (or `json`) prints the JSON array. A template
/// that does not parse exits 64, as every docker inspect command does.
pub(crate) fn inspect_format(format: Option<&str>) -> Result<Option<Format>, Exit> {
    match format {
        None | Some("") | Some("json") => Ok(None),
        Some(f) => Format::parse(f).map(Some).map_err(|e| Exit {
            code: 64,
            message: e.to_string(),
        }),
    }
}

/// Renders `raws` (each object's JSON body, and whether templates see it through the
/// image's typed view). Template errors are added to `errors`; the text ends with a
/// newline even when every template failed, as docker's does.
pub(crate) fn render_inspect(
    raws: &[(bytes::Bytes, bool)],
    fmt: Option<&Format>,
    errors: &mut Vec<String>,
) -> serde_json::Result<String> {
    let mut text = String::new();
    let Some(f) = fmt else {
        let mut joined = Vec::from(&b"["[..]);
        for (i, (r, _)) in raws.iter().enumerate() {
            if i > 0 {
                joined.push(b',');
            }
            joined.extend_from_slice(r.trim_ascii());
        }
        joined.push(b']');
        text.push_str(&super::json_indent(&joined, "    "));
        text.push('\n');
        return Ok(text);
    };
    for (r, image_view) in raws {
        let raw: Value = serde_json::from_slice(r)?;
        let typed = if *image_view {
            crate::cmd::inspect::typed_inspect(raw.clone())
        } else {
            raw.clone()
        };
        match f.execute_inspect(&typed, &raw) {
            Ok(s) => {
                text.push_str(&s);
                text.push('\n');
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if text.is_empty() {
        text.push('\n');
    }
    Ok(text)
}
