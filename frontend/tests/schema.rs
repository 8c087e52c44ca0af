//! The JSON schema (`decant schema`) agrees with the decoder: every example validates, and
//! specs the decoder rejects for their shape are rejected by the schema too. YAML is read the
//! way editors do (plain scalars become numbers, booleans or null), then checked with a JSON
//! schema validator.

mod common;

use marked_yaml::types::Node;
use serde_json::{json, Value};

fn to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => {
            let text = s.as_str();
            if !s.may_coerce() {
                return Value::from(text);
            }
            match text {
                "" | "~" | "null" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => text
                    .parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| text.parse::<f64>().map(|f| json!(f)))
                    .unwrap_or_else(|_| Value::from(text)),
            }
        }
        Node::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Mapping(map) => Value::Object(map.iter().map(|(k, v)| (k.as_str().to_string(), to_json(v))).collect()),
    }
}

fn yaml(text: &str) -> Value {
    let opts = marked_yaml::LoaderOptions::default().prevent_coercion(true);
    to_json(&marked_yaml::parse_yaml_with_options(0, text, opts).expect("valid YAML"))
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&decant::spec::json_schema()).expect("the schema is a valid JSON schema")
}

#[test]
fn every_example_validates() {
    let v = validator();
    for (name, _, text) in common::examples() {
        let doc = yaml(&text);
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
}

#[test]
fn shape_errors_are_schema_errors_too() {
    let v = validator();
    let bad = [
        ("unknown stage key", "stages:\n  app:\n    from: a:1\n    stpes: []\n"),
        ("no from", "stages:\n  app:\n    steps: []\n"),
        ("no stages", "args: {A: b}\n"),
        (
            "two kinds in a step",
            "stages:\n  app:\n    from: a:1\n    steps:\n      - env: {A: b}\n        workdir: /x\n",
        ),
        ("run option on copy", "stages:\n  app:\n    from: a:1\n    steps:\n      - copy: x\n        network: none\n"),
        (
            "unknown mount option",
            "stages:\n  app:\n    from: a:1\n    steps:\n      - run: x\n        mounts: [{cache: /c, size: 1}]\n",
        ),
        ("bad network", "stages:\n  app:\n    from: a:1\n    steps:\n      - run: x\n        network: bridge\n"),
        ("healthcheck without cmd", "stages:\n  app:\n    from: a:1\n    healthcheck: {interval: 1s}\n"),
    ];
    for (what, text) in bad {
        assert!(!v.is_valid(&yaml(text)), "{what} should be invalid");
        let compiled = decant::compile::plan("decant.yaml", text, &Default::default());
        assert!(compiled.is_err(), "{what}: decant rejects it too");
    }
    let good = "x-shared: {anything: 1}\nstages:\n  app:\n    x-note: free\n    from: a:1\n    expose: 8080\n    steps:\n      - run: [a, b]\n        env: {N: 1}\n        x-why: extension\n      - copy: [a, b]\n        to: /x/\n";
    assert!(v.is_valid(&yaml(good)), "{:?}", v.iter_errors(&yaml(good)).map(|e| e.to_string()).collect::<Vec<_>>());
    assert!(decant::compile::plan("decant.yaml", good, &Default::default()).is_ok());
}
