//! Bad input is a typed error naming the problem, never a panic.

use reverie_core::{Error, MemoryStore};

fn check(json: &str, expected: &str) {
    match MemoryStore::from_json(json) {
        Ok(_) => panic!("accepted: {json}"),
        Err(e) => assert!(
            e.to_string().contains(expected),
            "{json}\n -> {e}\n expected to contain {expected:?}"
        ),
    }
}

const HEAD: &str = r#"{"id":"s","version":1,"scope":{"type":"private","agent_id":"a"},"entries":"#;

fn store_with(entries: &str) -> String {
    format!("{HEAD}{entries}}}")
}

#[test]
fn malformed_and_invalid_stores_are_rejected_with_reasons() {
    check("{", "malformed memory store");
    check("[]", "malformed memory store");
    check(
        &store_with(r#"[{"id":"m1","text":"   ","kind":"fact","created_at":0,"status":"active"}]"#),
        "is empty",
    );
    check(
        &store_with(r#"[{"id":"m 1","text":"x","kind":"fact","created_at":0,"status":"active"}]"#),
        "contains ` `",
    );
    check(
        &store_with(r#"[{"id":"m1","text":"x","kind":"rumour","created_at":0,"status":"active"}]"#),
        "unknown variant `rumour`",
    );
    check(
        &store_with(
            r#"[{"id":"m1","text":"x","kind":"fact","created_at":0,"status":"active","confidence":1.5}]"#,
        ),
        "outside 0..=1",
    );
    check(
        &store_with(
            r#"[{"id":"m1","text":"x","kind":"fact","created_at":0,"status":"active"},
                {"id":"m1","text":"y","kind":"fact","created_at":0,"status":"active"}]"#,
        ),
        "duplicate entry id `m1`",
    );
    check(
        &store_with(
            r#"[{"id":"m1","text":"x","kind":"fact","created_at":0,"status":"merged","merged_into":"m9"}]"#,
        ),
        "unknown entry id `m9`",
    );
    let huge = "x".repeat(reverie_core::MAX_TEXT_BYTES + 1);
    check(
        &store_with(&format!(
            r#"[{{"id":"m1","text":"{huge}","kind":"fact","created_at":0,"status":"active"}}]"#
        )),
        "the limit is 16384",
    );
}

#[test]
fn errors_are_values_a_service_can_match_on() {
    let err = MemoryStore::from_json(&store_with(
        r#"[{"id":"m1","text":"x","kind":"fact","created_at":0,"status":"superseded","superseded_by":"m2","valid_until":5}]"#,
    ))
    .unwrap_err();
    assert_eq!(err, Error::UnknownId { kind: "entry", id: "m2".into() });
}

#[test]
fn junk_never_panics() {
    let inputs = [
        "",
        "null",
        "1e999",
        "\"\u{0}\"",
        &"[".repeat(10_000),
        r#"{"id":"","version":-1}"#,
        &store_with(
            r#"[{"id":"m1","text":"\ud800","kind":"fact","created_at":0,"status":"active"}]"#,
        ),
    ];
    for input in inputs {
        assert!(MemoryStore::from_json(input).is_err(), "{input:.40}");
    }
}
