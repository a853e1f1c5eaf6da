//! `image inspect` and `inspect`: the daemon's JSON, re-indented as docker does, or
//! a `--format` template run the way docker runs it (typed view first, raw map next).

use anyhow::Result;
use clap::Args;

use super::{Ctx, out};
use crate::usage::{Arity, Exit};

#[derive(Debug, Args)]
pub(crate) struct ImageInspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", value_name = "string", long_help = crate::help::INSPECT_FORMAT_HELP)]
    pub format: Option<String>,
    /// Inspect a specific platform of the multi-platform image
    #[arg(long = "platform", value_name = "string", hide = true)]
    pub platform: Option<String>,
    #[arg(value_name = "IMAGE", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", value_name = "string", long_help = crate::help::INSPECT_FORMAT_HELP)]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long = "size")]
    pub size: bool,
    /// Only inspect objects of the given type
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,
    #[arg(value_name = "NAME|ID", hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn inspect_any(ctx: &Ctx, a: InspectArgs) -> Result<()> {
    if let Some(k) = a.kind.as_deref().filter(|k| *k != "image") {
        return Err(Exit {
            code: 1,
            message: format!("\"{k}\" is not a valid value for --type"),
        }
        .into());
    }
    let args = ImageInspectArgs {
        format: a.format,
        platform: None,
        args: a.args,
    };
    inspect_impl(ctx, args, true).await
}

pub(crate) async fn inspect(ctx: &Ctx, a: ImageInspectArgs) -> Result<()> {
    inspect_impl(ctx, a, false).await
}

/// `generic` is `berth inspect`, which names a missing object as docker does.
async fn inspect_impl(ctx: &Ctx, a: ImageInspectArgs, generic: bool) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let fmt = crate::format::inspect::inspect_format(a.format.as_deref())?;
    let client = ctx.client().await?;
    let mut raws = Vec::new();
    let mut errors = Vec::new();
    for name in &a.args {
        let path = format!("/images/{}/json", berth_client::path_escape(name));
        match client.get(&path).send().await {
            Ok(resp) => raws.push((resp.bytes().await?, true)),
            Err(berth_client::Error::Daemon { status: 404, .. }) if generic => {
                errors.push(format!("Error: No such object: {name}"));
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let text = crate::format::inspect::render_inspect(&raws, fmt.as_ref(), &mut errors)?;
    out(&text);
    if !errors.is_empty() {
        return Err(Exit {
            code: 1,
            message: errors.join("\n"),
        }
        .into());
    }
    Ok(())
}

/// The daemon's inspect JSON as docker's CLI sees it through its typed structs
/// (what `--format` templates run on): the image config keeps only the OCI fields,
/// each omitted when empty, and `GraphDriver` lists `Data` before `Name`.
pub(crate) fn typed_inspect(v: serde_json::Value) -> serde_json::Value {
    use serde_json::{Map, Value};
    let Value::Object(mut top) = v else { return v };
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
    };
    if let Some(Value::Object(cfg)) = top.get("Config") {
        const OCI: [&str; 13] = [
            "User",
            "ExposedPorts",
            "Env",
            "Entrypoint",
            "Cmd",
            "Volumes",
            "WorkingDir",
            "Labels",
            "StopSignal",
            "ArgsEscaped",
            "Healthcheck",
            "OnBuild",
            "Shell",
        ];
        let typed: Map<String, Value> = OCI
            .iter()
            .filter_map(|k| {
                cfg.get(*k)
                    .filter(|v| !empty(v))
                    .map(|v| (k.to_string(), v.clone()))
            })
            .collect();
        top.insert("Config".into(), Value::Object(typed));
    }
    if let Some(Value::Object(gd)) = top.get("GraphDriver") {
        let mut typed = Map::new();
        for k in ["Data", "Name"] {
            typed.insert(k.into(), gd.get(k).cloned().unwrap_or(Value::Null));
        }
        top.insert("GraphDriver".into(), Value::Object(typed));
    }
    Value::Object(top)
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn inspect_templates_see_typed_structs() {
        let v = serde_json::json!({
            "Id": "sha256:ab",
            "Config": {"Hostname": "", "Tty": false, "Env": null, "Cmd": ["sh"], "Labels": {}, "User": "u"},
            "GraphDriver": {"Name": "overlay2", "Data": null}
        });
        expect![[r#"{"Id":"sha256:ab","Config":{"User":"u","Cmd":["sh"]},"GraphDriver":{"Data":null,"Name":"overlay2"}}"#]]
            .assert_eq(&typed_inspect(v).to_string());
    }
}
