//! The protocol's lines: items out, results in, per-item stdout, tails.

use super::*;

#[test]
fn an_item_line_is_one_json_object() {
    let line = item_line("a\"b", r#"{"x":1}"#, "line 2", Some(3));
    assert!(line.ends_with('\n'));
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["key"], "a\"b");
    assert_eq!(v["data"]["x"], 1);
    assert_eq!(v["attempt"], 3);
    assert_eq!(
        item_line("k", "{}", "l\u{e9}", None),
        "{\"key\":\"k\",\"data\":{},\"location\":\"l\u{e9}\"}\n"
    );
}

#[test]
fn result_lines_parse_both_ways() {
    let ok = parse_result_line(r#"{"key":"k","ok":{"y":2}}"#).unwrap();
    assert_eq!(ok.outcome, Ok(r#"{"y":2}"#.into()));
    let err = parse_result_line(r#"{"key":7,"error":"boom","category":"exit"}"#).unwrap();
    assert_eq!(err.key, "7");
    assert_eq!(err.outcome, Err("boom".into()));
    let parts = parse_result_line(r#"{"key":["a","b"],"ok":1}"#).unwrap();
    assert_eq!(parts.key, source::make_key(&["a".into(), "b".into()]));
    assert!(parse_result_line(r#"{"key":"k"}"#).is_err());
    assert!(parse_result_line(r#"{"key":"k","ok":1,"error":"x"}"#).is_err());
    assert!(parse_result_line("[1]").is_err());
    assert!(parse_result_line("hello").is_err());
}

#[test]
fn a_number_key_is_the_text_it_is_written_as() {
    let key = |line: &str| parse_result_line(line).map(|l| l.key);
    assert_eq!(key(r#"{"key":1e0,"ok":1}"#), Ok("1e0".into()));
    assert_eq!(key(r#"{"key":1.0,"ok":1}"#), Ok("1.0".into()));
    assert_eq!(key(r#"{"key": 2.10 ,"ok":1}"#), Ok("2.10".into()));
    assert_eq!(key(r#"{"key":-0,"ok":1}"#), Ok("-0".into()));
    assert_eq!(key(r#"{"key":1e-300,"ok":1}"#), Ok("1e-300".into()));
    let huge = "9".repeat(10 << 20);
    assert_eq!(key(&format!(r#"{{"key":{huge},"ok":1}}"#)), Ok(huge));
    assert!(key(r#"{"key":-,"ok":1}"#).is_err());
    let big = "123456789012345678901234567890";
    assert_eq!(key(&format!(r#"{{"key":{big},"ok":1}}"#)), Ok(big.into()));
    assert_eq!(
        key(r#"{"key":["x",2.10,"y\"z",true],"ok":1}"#),
        Ok(source::make_key(&[
            "x".into(),
            "2.10".into(),
            "y\"z".into(),
            "true".into()
        ]))
    );
    assert!(key(r#"{"key":true,"ok":1}"#).is_err());
    assert!(key(r#"{"key":null,"ok":1}"#).is_err());
    assert!(key(r#"{"key":{"a":1},"ok":1}"#).is_err());
}

#[test]
fn fields_parse_as_the_whole_value_does_last_one_counting() {
    for line in [
        r#"{"key":"a","ok":{"y": [1, 2]},"extra":{"z":null},"key":"b"}"#,
        r#"{"key":["x",3],"error":{"code":429},"category":7,"duration_ms":12,"worker":"w"}"#,
        r#"{"k\u0065y":"esc","ok":1,"duration_ms":1.5}"#,
        r#" {"key":5,"error":"boom","category":"http-429","worker":2} "#,
        r#"{"key":"a","ok":1,"error":"x"}"#,
        r#"{"ok":1}"#,
    ] {
        assert_eq!(parse_result_line(line), parse_value_line(line), "{line}");
    }
    let line = parse_result_line(r#"{"key":"a","ok":1,"key":"b"}"#).unwrap();
    assert_eq!(line.key, "b");
    assert_eq!(
        parse_result_line(r#"{"key":"a","ok":1,"x":7E17777977}"#),
        parse_value_line(r#"{"key":"a","ok":1,"x":7E17777977}"#)
    );
    assert!(
        parse_result_line("[1]")
            .unwrap_err()
            .contains("not a JSON object")
    );
    assert!(
        parse_result_line("{\"key\":")
            .unwrap_err()
            .starts_with("not valid JSON")
    );
}

#[test]
fn output_is_json_when_it_parses_else_text() {
    assert_eq!(output_json(b"{\"a\": 1}\n").unwrap(), "{\"a\": 1}");
    assert_eq!(output_json(b"hello\n").unwrap(), "\"hello\"");
    assert_eq!(output_json(b"").unwrap(), "null");
    // Found by fuzzing: a number out of range is text, not JSON.
    assert_eq!(output_json(b"\n\n7E17777977").unwrap(), "\"7E17777977\"");
    assert!(output_json(b"\xff\xfe").is_err());
}

#[test]
fn a_tail_never_splits_badly() {
    assert_eq!(tail_text("héllo".as_bytes(), 4), "llo");
    assert_eq!(tail_text(b"abc", 10), "abc");
}
