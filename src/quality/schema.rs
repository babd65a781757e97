//! A small JSON Schema validator for the `json_schema` check. It supports the keywords most
//! output schemas use, and rejects a schema that uses any other when the task set is loaded,
//! rather than passing what it cannot check:
//! `type` (a name or a list), `enum`, `const`, `properties`, `required`, `additionalProperties`
//! (true, false or a schema), `items` (one schema), `minItems`, `maxItems`, `minLength`,
//! `maxLength`, `pattern`, `minimum`, `maximum`; and `$schema`, `title`, `description`,
//! `$comment`, `examples`, `default`, which are read and ignored.

use serde_json::Value;

/// Keywords the validator checks.
pub const SUPPORTED: &[&str] = &[
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
];
const IGNORED: &[&str] = &["$schema", "title", "description", "$comment", "examples", "default"];

/// Checks that `schema` uses only supported keywords (and that its patterns compile), with the
/// JSON pointer of the first that does not.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    walk(schema, "")
}

fn walk(schema: &Value, at: &str) -> Result<(), String> {
    let Value::Object(map) = schema else {
        return match schema {
            Value::Bool(_) => Ok(()),
            _ => Err(format!("the schema at '{at}' is not an object")),
        };
    };
    for (k, v) in map {
        let here = format!("{at}/{k}");
        if IGNORED.contains(&k.as_str()) {
            continue;
        }
        if !SUPPORTED.contains(&k.as_str()) {
            return Err(format!("json_schema keyword '{k}' (at '{here}') is not supported; supported: {}", SUPPORTED.join(", ")));
        }
        match k.as_str() {
            "properties" => {
                let Value::Object(props) = v else { return Err(format!("'{here}' must be an object of schemas")) };
                for (name, s) in props {
                    walk(s, &format!("{here}/{name}"))?;
                }
            }
            "items" | "additionalProperties" => walk(v, &here)?,
            "pattern" => {
                let p = v.as_str().ok_or_else(|| format!("'{here}' must be a string"))?;
                regex::Regex::new(p).map_err(|e| format!("'{here}' is not a valid pattern: {e}"))?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(want: &str, v: &Value) -> bool {
    let got = type_name(v);
    got == want || (want == "number" && got == "integer")
}

/// The first way `v` breaks `schema`, as `at '/a/0': expected string`.
pub fn validate(schema: &Value, v: &Value) -> Result<(), String> {
    check(schema, v, "")
}

fn check(schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let fail = |what: String| Err(format!("at '{}': {what}", if at.is_empty() { "/" } else { at }));
    let map = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return fail("nothing is allowed here".into()),
        Value::Object(m) => m,
        _ => return Ok(()),
    };
    if let Some(t) = map.get("type") {
        let names: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.is_empty() && !names.iter().any(|n| type_matches(n, v)) {
            return fail(format!("expected {}, found {}", names.join(" or "), type_name(v)));
        }
    }
    if let Some(Value::Array(options)) = map.get("enum")
        && !options.contains(v)
    {
        return fail(format!("{v} is not one of {}", Value::Array(options.clone())));
    }
    if let Some(c) = map.get("const")
        && c != v
    {
        return fail(format!("expected {c}, found {v}"));
    }
    let num = |k: &str| map.get(k).and_then(Value::as_f64);
    if let Value::String(s) = v {
        let n = s.chars().count() as f64;
        if num("minLength").is_some_and(|m| n < m) || num("maxLength").is_some_and(|m| n > m) {
            return fail(format!("a string of {n} characters is outside its length limits"));
        }
        if let Some(p) = map.get("pattern").and_then(Value::as_str)
            && let Ok(re) = regex::Regex::new(p)
            && !re.is_match(s)
        {
            return fail(format!("'{s}' does not match /{p}/"));
        }
    }
    if let Some(x) = v.as_f64()
        && (num("minimum").is_some_and(|m| x < m) || num("maximum").is_some_and(|m| x > m))
    {
        return fail(format!("{x} is outside its range"));
    }
    if let Value::Array(items) = v {
        let n = items.len() as f64;
        if num("minItems").is_some_and(|m| n < m) || num("maxItems").is_some_and(|m| n > m) {
            return fail(format!("an array of {n} items is outside its size limits"));
        }
        if let Some(s) = map.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(s, item, &format!("{at}/{i}"))?;
            }
        }
    }
    if let Value::Object(obj) = v {
        if let Some(Value::Array(req)) = map.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    return fail(format!("the required property '{r}' is missing"));
                }
            }
        }
        let props = map.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(s, val, &format!("{at}/{k}"))?,
                None => {
                    if let Some(extra) = map.get("additionalProperties") {
                        check(extra, val, &format!("{at}/{k}"))?;
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn ok(schema: Value, v: Value) {
        assert_eq!(validate(&schema, &v), Ok(()), "{v}");
    }

    #[track_caller]
    fn bad(schema: Value, v: Value, says: &str) {
        let e = validate(&schema, &v).expect_err("should fail");
        assert!(e.contains(says), "{e}");
    }

    #[test]
    fn validates_the_supported_keywords() {
        let s = json!({
            "type": "object",
            "required": ["component", "severity"],
            "properties": {
                "component": {"type": "string", "minLength": 1},
                "severity": {"enum": ["low", "medium", "high"]},
                "steps": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "count": {"type": "integer", "minimum": 0}
            },
            "additionalProperties": false
        });
        ok(s.clone(), json!({"component": "login", "severity": "high", "steps": ["a"], "count": 2}));
        bad(s.clone(), json!({"component": "login"}), "'severity' is missing");
        bad(s.clone(), json!({"component": "login", "severity": "urgent"}), "not one of");
        bad(s.clone(), json!({"component": "", "severity": "low"}), "/component");
        bad(s.clone(), json!({"component": "x", "severity": "low", "steps": [1]}), "at '/steps/0': expected string");
        bad(s.clone(), json!({"component": "x", "severity": "low", "other": 1}), "nothing is allowed");
        bad(s.clone(), json!({"component": "x", "severity": "low", "count": 1.5}), "expected integer");
        bad(s, json!([1]), "expected object, found array");
        ok(json!({"type": ["string", "null"]}), json!(null));
        ok(json!({"type": "number", "maximum": 3}), json!(2));
        bad(json!({"pattern": "^a+$"}), json!("ab"), "does not match");
    }

    #[test]
    fn unsupported_keywords_are_refused_not_ignored() {
        let e = check_schema(&json!({"properties": {"a": {"oneOf": []}}})).expect_err("refused");
        assert!(e.contains("'oneOf'") && e.contains("/properties/a/oneOf"), "{e}");
        assert!(check_schema(&json!({"$schema": "x", "title": "t", "type": "object"})).is_ok());
        assert!(check_schema(&json!({"pattern": "("})).is_err());
    }
}
