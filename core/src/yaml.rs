//! Config blocks written as YAML, turned into the JSON tree
//! [`ConfigInput::parse`](crate::config::ConfigInput::parse) reads. Only
//! what a config block needs is accepted: one document of mappings with
//! plain keys, lists, strings, numbers, booleans and null. Anchors, aliases
//! and tags are refused, so a small text cannot expand into a large tree.
//!
//! The tree is built from the parser's events, not from a loaded document:
//! a loader resolves every alias by copying, which is where a few hundred
//! bytes become gigabytes.

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

use crate::error::{Error, Result};

/// Nesting deeper than this is refused: a config block is a few levels
/// deep.
const MAX_DEPTH: usize = 32;

/// The JSON tree of the one YAML document in `text`.
pub fn to_json(text: &str) -> Result<Value> {
    let mut tree = Tree::default();
    Parser::new_from_str(text)
        .load(&mut tree, true)
        .map_err(|e| Error::Json { what: "YAML config", message: e.to_string() })?;
    if let Some(error) = tree.error {
        return Err(error);
    }
    match tree.docs.len() {
        0 => Err(Error::Json { what: "YAML config", message: "the document is empty".into() }),
        1 => Ok(tree.docs.pop().unwrap_or_default()),
        n => Err(Error::Json {
            what: "YAML config",
            message: format!("it holds {n} documents; send one"),
        }),
    }
}

/// A collection being read: a list, or a mapping with the key whose value
/// comes next.
enum Open {
    List(Vec<Value>),
    Mapping(Map<String, Value>, Option<String>),
}

/// Builds the documents from the parser's events; the first error stops it.
#[derive(Default)]
struct Tree {
    docs: Vec<Value>,
    open: Vec<Open>,
    error: Option<Error>,
}

impl Tree {
    /// Where the next value goes, as a path for error messages.
    fn path(&self) -> String {
        let mut path = String::from("config");
        for open in &self.open {
            match open {
                Open::List(items) => path.push_str(&format!("[{}]", items.len())),
                Open::Mapping(_, Some(key)) if path == "config" => path = key.clone(),
                Open::Mapping(_, Some(key)) => path.push_str(&format!(".{key}")),
                Open::Mapping(_, None) => {}
            }
        }
        path
    }

    fn refuse(&mut self, message: impl Into<String>) {
        self.error = Some(Error::invalid(self.path(), message));
    }

    /// Whether the next scalar is a mapping's key.
    fn wants_key(&self) -> bool {
        matches!(self.open.last(), Some(Open::Mapping(_, None)))
    }

    /// Puts a finished value where it belongs.
    fn place(&mut self, value: Value) {
        match self.open.last_mut() {
            None => self.docs.push(value),
            Some(Open::List(items)) => items.push(value),
            Some(Open::Mapping(map, key)) => {
                if let Some(key) = key.take() {
                    map.insert(key, value);
                }
            }
        }
    }

    fn scalar(&mut self, text: String, style: TScalarStyle) {
        let plain = style == TScalarStyle::Plain;
        if self.wants_key() {
            let key = if plain {
                match Yaml::from_str(&text) {
                    Yaml::String(key) => key,
                    other => {
                        return self.refuse(format!("mapping keys must be words, got {other:?}"))
                    }
                }
            } else {
                text
            };
            if let Some(Open::Mapping(map, slot)) = self.open.last_mut() {
                if map.contains_key(&key) {
                    let message = format!("`{key}` is given twice");
                    return self.refuse(message);
                }
                *slot = Some(key);
            }
            return;
        }
        let value = if !plain {
            Value::String(text)
        } else {
            match Yaml::from_str(&text) {
                Yaml::Null => Value::Null,
                Yaml::Boolean(b) => Value::Bool(b),
                Yaml::Integer(i) => Value::Number(i.into()),
                Yaml::Real(real) => match real.parse::<f64>().ok().and_then(Number::from_f64) {
                    Some(n) => Value::Number(n),
                    None => return self.refuse(format!("`{real}` is not a finite number")),
                },
                _ => Value::String(text),
            }
        };
        self.place(value);
    }

    fn start(&mut self, open: Open, anchor: usize, tagged: bool) {
        if anchor != 0 || tagged {
            return self.refuse("YAML anchors, aliases and tags are not accepted here");
        }
        if self.wants_key() {
            return self.refuse("mapping keys must be words, not lists or mappings");
        }
        if self.open.len() >= MAX_DEPTH {
            return self.refuse(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        self.open.push(open);
    }

    fn end(&mut self) {
        match self.open.pop() {
            Some(Open::List(items)) => self.place(Value::Array(items)),
            Some(Open::Mapping(map, _)) => self.place(Value::Object(map)),
            None => {}
        }
    }
}

impl MarkedEventReceiver for Tree {
    fn on_event(&mut self, event: Event, _: Marker) {
        if self.error.is_some() {
            return;
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return self.refuse("YAML anchors, aliases and tags are not accepted here");
                }
                self.scalar(text, style);
            }
            Event::Alias(_) => self.refuse("YAML anchors, aliases and tags are not accepted here"),
            Event::SequenceStart(anchor, tag) => {
                self.start(Open::List(Vec::new()), anchor, tag.is_some())
            }
            Event::MappingStart(anchor, tag) => {
                self.start(Open::Mapping(Map::new(), None), anchor, tag.is_some())
            }
            Event::SequenceEnd | Event::MappingEnd => self.end(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_config_block_and_refuses_what_it_does_not_need() {
        let doc = to_json(
            "dreaming:\n  schedule: daily\n  n: 3\n  f: 0.5\n  s: '04:30'\n  x: ~\n  review:\n    require_approval: false\n  l: [a, 1]\n",
        )
        .unwrap();
        assert_eq!(doc["dreaming"]["review"]["require_approval"], false);
        assert_eq!(doc["dreaming"]["n"], 3);
        assert_eq!(doc["dreaming"]["f"], 0.5);
        assert_eq!(doc["dreaming"]["s"], "04:30");
        assert_eq!(doc["dreaming"]["x"], Value::Null);
        assert_eq!(doc["dreaming"]["l"], serde_json::json!(["a", 1]));
        let err = |text: &str| to_json(text).unwrap_err().to_string();
        assert!(err("a: &x 1\nb: *x\n").contains("aliases"), "{}", err("a: &x 1\nb: *x\n"));
        assert!(err("a: !!str 1\n").contains("tags"));
        assert!(err("a: 1\n---\nb: 2\n").contains("2 documents"));
        assert!(err("").contains("empty"));
        assert!(err("? [1, 2]\n: x\n").contains("keys must be words"));
        assert!(err("a: 1\na: 2\n").contains("`a` is given twice"));
        assert!(err("a:\n  b: .nan\n").contains("invalid `a.b`"), "{}", err("a:\n  b: .nan\n"));
        assert!(err(&format!("{}1{}", "[".repeat(40), "]".repeat(40))).contains("deeper than 32"));
        assert!(to_json(&"[".repeat(100_000)).is_err());
    }
}
