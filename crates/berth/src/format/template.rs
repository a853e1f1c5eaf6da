//! `--format` templates: Go templates (gotmpl) with docker's extra functions, the
//! `table` prefix (header row from the context's field→header map, then tabwriter),
//! and the `json` shorthand.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use gotmpl::{Template, TemplateError, Value};

use super::tabwriter::TabWriter;

/// A parsed `--format` value.
pub(crate) struct Format {
    tmpl: Template,
    header: Option<Template>,
    order: KeyOrder,
    /// The same template with `missingkey=error`, for docker's "typed struct first,
    /// raw map if that fails" inspect evaluation.
    strict: Option<Template>,
}

/// Template maps are sorted, but docker prints `{{json .Config}}` in the wire
/// order of its typed structs; this remembers the daemon's key order per key set
/// so `json` can restore it.
type KeyOrder = Arc<Mutex<HashMap<String, Vec<String>>>>;

fn key_set<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let mut k: Vec<&str> = keys.collect();
    k.sort_unstable();
    k.join("\0")
}

fn record_order(v: &serde_json::Value, order: &mut HashMap<String, Vec<String>>) {
    match v {
        serde_json::Value::Object(m) => {
            order
                .entry(key_set(m.keys().map(String::as_str)))
                .or_insert_with(|| m.keys().cloned().collect());
            m.values().for_each(|c| record_order(c, order));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|c| record_order(c, order)),
        _ => {}
    }
}

/// Why a format could not be used; printed as docker prints it.
#[derive(Debug, thiserror::Error)]
#[error("template parsing error: {0}")]
pub(crate) struct FormatError(String);

impl Format {
    /// Parses `src` as docker does: `json` means `{{json .}}`; a `table` prefix is
    /// stripped (and turns on the header and alignment); surrounding spaces are
    /// trimmed and the two-character sequences `\t` and `\n` become real ones.
    pub(crate) fn parse(src: &str) -> Result<Format, FormatError> {
        Self::parse_with(src, false)
    }

    /// Like [`Format::parse`], for docker's formatter contexts (image rows, df rows):
    /// those marshal themselves with `json.Marshal`, which escapes `<`, `>` and `&`,
    /// so `{{json .}}` prints `\u003cnone\u003e` there and nowhere else.
    pub(crate) fn parse_ctx(src: &str) -> Result<Format, FormatError> {
        Self::parse_with(src, true)
    }

    fn parse_with(src: &str, escape_contexts: bool) -> Result<Format, FormatError> {
        let (table, body) = match src.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, src),
        };
        let body = if body.trim() == "json" && !table {
            "{{json .}}"
        } else {
            body
        };
        let body = body
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        let order = KeyOrder::default();
        let tmpl = build(&body, false, escape_contexts, order.clone(), false)?;
        let header = if table {
            Some(build(&body, true, false, order.clone(), false)?)
        } else {
            None
        };
        let strict = build(&body, false, escape_contexts, order.clone(), true).ok();
        Ok(Format {
            tmpl,
            header,
            order,
            strict,
        })
    }

    /// Renders one item (no newline added).
    pub(crate) fn execute(&self, data: &Value) -> Result<String, FormatError> {
        self.tmpl
            .execute_to_string(data)
            .map_err(|e| FormatError(e.to_string()))
    }

    /// Renders one item of daemon JSON, keeping its key order for `json`.
    pub(crate) fn execute_json(&self, data: &serde_json::Value) -> Result<String, FormatError> {
        if let Ok(mut o) = self.order.lock() {
            record_order(data, &mut o);
        }
        self.execute(&value_of(data))
    }

    /// docker's inspect evaluation: the template runs on the typed view, where a
    /// field the struct lacks is an error; then it runs again on the raw JSON.
    pub(crate) fn execute_inspect(
        &self,
        typed: &serde_json::Value,
        raw: &serde_json::Value,
    ) -> Result<String, FormatError> {
        if let Ok(mut o) = self.order.lock() {
            record_order(typed, &mut o);
        }
        let Some(strict) = &self.strict else {
            return self.execute(&value_of(raw));
        };
        if let Ok(s) = strict.execute_to_string(&value_of(typed)) {
            return Ok(s);
        }
        // The raw map is strict too: a key in neither is docker's "map has no entry".
        strict
            .execute_to_string(&value_of(raw))
            .map_err(|e| FormatError(e.to_string()))
    }

    /// Renders every item on its own line; for tables, with the header row first and
    /// the whole aligned by docker's tabwriter. `headers` maps field names to titles.
    pub(crate) fn render(
        &self,
        items: &[Value],
        headers: &[(&str, &str)],
    ) -> Result<String, FormatError> {
        // Rows are docker's typed formatter contexts: a field the context lacks is an
        // error (`{{.Nope}}`), not `<no value>`.
        let mut body = String::new();
        for item in items {
            let row = match &self.strict {
                Some(strict) => strict
                    .execute_to_string(item)
                    .map_err(|e| FormatError(e.to_string()))?,
                None => self.execute(item)?,
            };
            body.push_str(&row);
            body.push('\n');
        }
        let Some(header_tmpl) = &self.header else {
            return Ok(body);
        };
        let hmap: BTreeMap<std::sync::Arc<str>, Value> = headers
            .iter()
            .map(|(k, v)| (std::sync::Arc::from(*k), Value::String((*v).into())))
            .collect();
        let head = header_tmpl
            .execute_to_string(&Value::Map(hmap.into()))
            .map_err(|e| FormatError(e.to_string()))?;
        let mut tw = TabWriter::table();
        tw.write(&head);
        tw.write("\n");
        tw.write(&body);
        Ok(tw.finish())
    }
}

fn build(
    src: &str,
    header: bool,
    escape_contexts: bool,
    order: KeyOrder,
    strict: bool,
) -> Result<Template, FormatError> {
    let mut t = Template::new("");
    if strict {
        t = t.missing_key(gotmpl::MissingKey::Error);
    }
    if header {
        // Header rendering passes titles through every docker function unchanged.
        for name in [
            "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
        ] {
            t = t.func(name, |args: &[Value]| {
                Ok(args.first().cloned().unwrap_or(Value::Nil))
            });
        }
    } else {
        t = t
            .func("json", move |args| {
                let v = arg(args, 0, "json")?;
                let s = match order.lock() {
                    Ok(o) => to_json_ordered(v, &o),
                    Err(_) => to_json(v),
                };
                let s = if escape_contexts && matches!(v, Value::Map(_)) {
                    escape_html(&s)
                } else {
                    s
                };
                Ok(Value::String(s.into()))
            })
            .func("split", |args| {
                let s = str_arg(args, 0, "split")?;
                let sep = str_arg(args, 1, "split")?;
                let parts: Vec<Value> = if sep.is_empty() {
                    s.chars()
                        .map(|c| Value::String(c.to_string().into()))
                        .collect()
                } else {
                    s.split(sep.as_str())
                        .map(|p| Value::String(p.into()))
                        .collect()
                };
                Ok(Value::List(parts.into()))
            })
            .func("join", |args| {
                let sep = str_arg(args, 1, "join")?;
                let parts: Vec<String> = match arg(args, 0, "join")? {
                    Value::List(l) => l.iter().map(plain).collect(),
                    Value::Nil => Vec::new(),
                    other => {
                        return Err(TemplateError::Exec(format!(
                            "join: expected a list, got {}",
                            other.type_name()
                        )));
                    }
                };
                Ok(Value::String(parts.join(&sep).into()))
            })
            .func("title", |args| {
                Ok(Value::String(title(&str_arg(args, 0, "title")?).into()))
            })
            .func("lower", |args| {
                Ok(Value::String(
                    str_arg(args, 0, "lower")?.to_lowercase().into(),
                ))
            })
            .func("upper", |args| {
                Ok(Value::String(
                    str_arg(args, 0, "upper")?.to_uppercase().into(),
                ))
            })
            .func("pad", |args| {
                let s = str_arg(args, 0, "pad")?;
                let pre = int_arg(args, 1, "pad")?;
                let post = int_arg(args, 2, "pad")?;
                if s.is_empty() {
                    return Ok(Value::String("".into()));
                }
                Ok(Value::String(
                    format!("{}{s}{}", " ".repeat(pre), " ".repeat(post)).into(),
                ))
            })
            .func("truncate", |args| {
                let s = str_arg(args, 0, "truncate")?;
                let n = int_arg(args, 1, "truncate")?;
                // Go slices bytes; stay on a char boundary to never split a character.
                if s.len() <= n {
                    return Ok(Value::String(s.into()));
                }
                let mut end = n;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                Ok(Value::String(s[..end].into()))
            });
    }
    t.parse(src).map_err(|e| FormatError(e.to_string()))
}

fn arg<'a>(args: &'a [Value], i: usize, f: &str) -> Result<&'a Value, TemplateError> {
    args.get(i).ok_or_else(|| TemplateError::ArgCount {
        name: f.to_string(),
        expected: i + 1,
        got: args.len(),
    })
}

fn str_arg(args: &[Value], i: usize, f: &str) -> Result<String, TemplateError> {
    Ok(plain(arg(args, i, f)?))
}

fn int_arg(args: &[Value], i: usize, f: &str) -> Result<usize, TemplateError> {
    let v = arg(args, i, f)?;
    v.as_int()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            TemplateError::Exec(format!("{f}: expected a non-negative integer, got {v}"))
        })
}

/// A value as Go's `fmt.Sprint` prints it (strings unquoted).
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

/// strings.Title: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// `{{json .}}`: compact JSON, no HTML escaping (as docker's encoder is set up).
pub(crate) fn to_json(v: &Value) -> String {
    to_json_ordered(v, &HashMap::new())
}

fn to_json_ordered(v: &Value, order: &HashMap<String, Vec<String>>) -> String {
    serde_json::to_string(&to_serde(v, order)).unwrap_or_else(|_| "null".into())
}

/// Go's HTML-safe JSON escaping of `<`, `>` and `&`.
fn escape_html(s: &str) -> String {
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn to_serde(v: &Value, order: &HashMap<String, Vec<String>>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Uint(u) => J::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        Value::String(s) => J::String(s.to_string()),
        Value::List(l) => J::Array(l.iter().map(|c| to_serde(c, order)).collect()),
        Value::Map(m) => {
            // Go sorts the keys of real maps (labels, attributes); only struct-like
            // objects (some key capitalised, as Go's exported fields are) keep wire order.
            let struct_like = m
                .keys()
                .any(|k| k.starts_with(|c: char| c.is_ascii_uppercase()));
            let keys: Vec<String> = match order.get(&key_set(m.keys().map(|k| &**k))) {
                Some(o) if struct_like && o.len() == m.len() => o.clone(),
                _ => m.keys().map(|k| k.to_string()).collect(),
            };
            J::Object(
                keys.into_iter()
                    .filter_map(|k| m.get(k.as_str()).map(|v| (k, to_serde(v, order))))
                    .collect(),
            )
        }
        _ => J::Null,
    }
}

/// Template data from any serializable value (e.g. the daemon's JSON).
pub(crate) fn value_of<T: serde::Serialize + ?Sized>(v: &T) -> Value {
    gotmpl::to_value(v).unwrap_or(Value::Nil)
}

/// Template data for a docker "context": field name → already formatted string.
pub(crate) fn context(fields: &[(&str, String)]) -> Value {
    let m: BTreeMap<std::sync::Arc<str>, Value> = fields
        .iter()
        .map(|(k, v)| (std::sync::Arc::from(*k), Value::String(v.as_str().into())))
        .collect();
    Value::Map(m.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn check(format: &str, expect: expect_test::Expect) {
        let items = vec![
            context(&[
                ("Repository", "busybox".into()),
                ("Tag", "latest".into()),
                ("ID", "abc".into()),
            ]),
            context(&[
                ("Repository", "<none>".into()),
                ("Tag", "<none>".into()),
                ("ID", "def".into()),
            ]),
        ];
        let headers = [
            ("Repository", "REPOSITORY"),
            ("Tag", "TAG"),
            ("ID", "IMAGE ID"),
        ];
        let out = match Format::parse(format).and_then(|f| f.render(&items, &headers)) {
            Ok(s) => s,
            Err(e) => format!("error: {e}\n"),
        };
        expect.assert_eq(&out);
    }

    #[test]
    fn formats() {
        check(
            "{{.ID}}",
            expect![[r#"
            abc
            def
        "#]],
        );
        check(
            "table {{.Repository}}\\t{{.ID}}",
            expect![[r#"
            REPOSITORY   IMAGE ID
            busybox      abc
            <none>       def
        "#]],
        );
        check(
            "table {{.Tag}}",
            expect![[r#"
            TAG
            latest
            <none>
        "#]],
        );
        check(
            "{{json .}}",
            expect![[r#"
            {"ID":"abc","Repository":"busybox","Tag":"latest"}
            {"ID":"def","Repository":"<none>","Tag":"<none>"}
        "#]],
        );
        check(
            "json",
            expect![[r#"
            {"ID":"abc","Repository":"busybox","Tag":"latest"}
            {"ID":"def","Repository":"<none>","Tag":"<none>"}
        "#]],
        );
        check(
            "{{.Repository | upper}}:{{lower \"A\"}} {{title \"hello world\"}}",
            expect![[r#"
            BUSYBOX:a Hello World
            <NONE>:a Hello World
        "#]],
        );
        check(
            "{{join (split .Repository \"s\") \"+\"}}|{{truncate .Repository 3}}|{{pad .Tag 1 2}}|",
            expect![[r#"
            bu+ybox|bus| latest  |
            <none>|<no| <none>  |
        "#]],
        );
        check(
            "table {{.Repository | lower}}\\t{{json .Tag}}",
            expect![[r#"
            REPOSITORY   TAG
            busybox      "latest"
            <none>       "<none>"
        "#]],
        );
        // Rows are typed contexts in docker: an unknown field fails the command.
        check(
            "{{.Missing}}",
            expect![[r#"
            error: template parsing error: map has no entry for key: Missing
        "#]],
        );
        check(
            "{{.ID",
            expect![[r#"
            error: template parsing error: template: 1:6: unclosed action
        "#]],
        );
    }

    #[test]
    fn json_of_daemon_data() {
        let data = value_of(
            &serde_json::json!({"Config": {"Env": ["A=1", "B=2"], "Cmd": null}, "Size": 42}),
        );
        let f = Format::parse("{{.Size}} {{.Config.Env}} {{json .Config}} {{index .Config.Env 1}}")
            .unwrap();
        expect![[r#"42 [A=1 B=2] {"Cmd":null,"Env":["A=1","B=2"]} B=2"#]]
            .assert_eq(&f.execute(&data).unwrap());
    }
}
