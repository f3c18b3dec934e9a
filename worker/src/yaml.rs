//! YAML request bodies, turned into the JSON tree the core reads. Only
//! what a config block needs is accepted: mappings with string keys,
//! lists, strings, numbers, booleans and null, in a single document.

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

use crate::http::ApiError;

pub(crate) fn to_json(text: &str) -> Result<Value, ApiError> {
    let docs = YamlLoader::load_from_str(text)
        .map_err(|e| ApiError::bad_request(format!("malformed YAML: {e}")))?;
    match docs.len() {
        0 => Err(ApiError::bad_request("the YAML body is empty")),
        1 => convert(&docs[0], "config"),
        n => Err(ApiError::bad_request(format!("the YAML body holds {n} documents; send one"))),
    }
}

fn convert(node: &Yaml, path: &str) -> Result<Value, ApiError> {
    Ok(match node {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::Number((*i).into()),
        Yaml::Real(text) => {
            node.as_f64().and_then(Number::from_f64).map(Value::Number).ok_or_else(|| {
                ApiError::bad_request(format!("{path}: `{text}` is not a finite number"))
            })?
        }
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| convert(item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let Yaml::String(key) = key else {
                    return Err(ApiError::bad_request(format!(
                        "{path}: mapping keys must be plain words, got {key:?}"
                    )));
                };
                let child = if path == "config" { key.clone() } else { format!("{path}.{key}") };
                out.insert(key.clone(), convert(value, &child)?);
            }
            Value::Object(out)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(ApiError::bad_request(format!(
                "{path}: YAML aliases and tags are not accepted here"
            )))
        }
    })
}
