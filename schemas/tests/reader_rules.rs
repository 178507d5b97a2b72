//! The value and error rules of docs/domain.md, one case each, plus (when switched on with
//! `MSGMIG_SHARED_FIXTURES=<dir>`) the 27 cases of `fixtures/cif-values/cases.json`.

use msgmig_schemas::cif::{parse, ParseErrorKind, Value};

fn values(cif: &str) -> Vec<Value> {
    let doc = parse(cif.as_bytes()).unwrap_or_else(|e| panic!("{cif:?}: {e}"));
    let t = doc.table("c").expect("category c");
    let col = t.column("v").expect("attribute v");
    t.rows.iter().map(|r| r[col].clone()).collect()
}

fn one(cif: &str) -> Value {
    values(cif).remove(0)
}

fn error(cif: &str) -> (usize, usize, ParseErrorKind) {
    let e = parse(cif.as_bytes()).expect_err("must fail");
    (e.position.line, e.position.column, e.kind)
}

#[test]
fn quoting_rules_of_cif_1_1() {
    assert_eq!(one("data_m\n_c.v 'two words'\n"), Value::text("two words"));
    assert_eq!(one("data_m\n_c.v 'it's fine'\n"), Value::text("it's fine"));
    assert_eq!(
        one("data_m\n_c.v \"O'Neil said ' hi\"\n"),
        Value::text("O'Neil said ' hi")
    );
    assert_eq!(one("data_m\n_c.v ''\n"), Value::text(""));
    assert_eq!(one("data_m\n_c.v '?'\n"), Value::text("?"));
    assert_eq!(one("data_m\n_c.v ?\n"), Value::Unknown);
    assert_eq!(one("data_m\n_c.v .\n"), Value::Inapplicable);
    assert_eq!(one("data_m\n_c.v None\n"), Value::text("None"));
}

#[test]
fn text_fields_keep_everything_but_the_last_line_break() {
    assert_eq!(
        one("data_m\n_c.v\n;Dear Depositors,\nsecond\n;\n"),
        Value::text("Dear Depositors,\nsecond")
    );
    assert_eq!(one("data_m\n_c.v\n;Cheers, \n;\n"), Value::text("Cheers, "));
    assert_eq!(one("data_m\n_c.v\n;body\n\n\n;\n"), Value::text("body\n\n"));
    assert_eq!(one("data_m\n_c.v\n;\n;\n"), Value::text(""));
    assert_eq!(
        one("data_m\n_c.v\n;\t\tTo:\tx\n;\n"),
        Value::text("\t\tTo:\tx")
    );
    assert_eq!(
        one("data_m\n_c.v\n;# no comment\n_no_tag 1\nloop_\n ;x\n\"q\nhttp://t.com/#!/a\n;\n"),
        Value::text("# no comment\n_no_tag 1\nloop_\n ;x\n\"q\nhttp://t.com/#!/a")
    );
}

#[test]
fn crlf_becomes_lf_inside_values() {
    assert_eq!(
        one("data_m\r\n_c.v\r\n;one\r\ntwo \r\n;\r\n"),
        Value::text("one\ntwo ")
    );
}

#[test]
fn comments_and_separators() {
    assert_eq!(one("data_m\n# c\n_c.v abc # comment\n"), Value::text("abc"));
    assert_eq!(one("data_m\n_c.v abc#def\n"), Value::text("abc#def"));
    assert_eq!(one("data_m\n_c.v\n\tabc\n"), Value::text("abc"));
    assert_eq!(
        one("data_m\n_C.V abc\n"),
        Value::text("abc"),
        "tags are case-insensitive"
    );
}

#[test]
fn loops_span_lines_and_keep_row_lines() {
    let doc = parse(b"data_m\nloop_\n_c.a\n_c.v\n1 x\n2\n;text\n;\n").unwrap();
    let t = doc.table("c").unwrap();
    assert_eq!(
        t.rows,
        vec![
            vec![Value::text("1"), Value::text("x")],
            vec![Value::text("2"), Value::text("text")]
        ]
    );
    assert_eq!(t.row_lines, vec![5, 6]);
}

#[test]
fn tag_names_are_lower_cased_and_split_at_the_first_dot() {
    let doc = parse(b"data_m\n_Cat.Attr.X 1\n_CAT.y 2\n").unwrap();
    let t = doc.table("cat").unwrap();
    assert_eq!(t.category, "cat");
    assert_eq!(t.attributes, vec!["attr.x", "y"]);
    assert_eq!(t.rows, vec![vec![Value::text("1"), Value::text("2")]]);
}

#[test]
fn non_ascii_is_kept_as_written() {
    assert_eq!(one("data_m\n_c.v 'Caf&#233;'\n"), Value::text("Caf&#233;"));
    assert_eq!(
        one("data_m\n_c.v 'Müller 你好 🧬'\n"),
        Value::text("Müller 你好 🧬")
    );
}

#[test]
fn each_malformed_class_has_its_own_error_and_position() {
    assert_eq!(
        error("data_m\n#\n_c.v 'never closed\n"),
        (3, 6, ParseErrorKind::UnterminatedQuote('\''))
    );
    assert_eq!(
        error("data_m\n#\n_c.v\n;never closed\n"),
        (4, 1, ParseErrorKind::UnterminatedTextField)
    );
    assert_eq!(
        error("data_m\nloop_\n_c.a\n_c.v\n1 2 3\n"),
        (2, 1, ParseErrorKind::LoopValueCount { tags: 2, values: 3 })
    );
    assert_eq!(
        error("data_m\n_c.v\n_c.w abc\n"),
        (2, 1, ParseErrorKind::MissingValue("_c.v".into()))
    );
    assert_eq!(error("_c.v abc\n"), (1, 1, ParseErrorKind::NoDataBlock));
    assert_eq!(
        error("# only a comment\n\n"),
        (3, 1, ParseErrorKind::NoDataBlock)
    );
    assert_eq!(
        error("data_m\n_c.v 1\n_c.v 2\n"),
        (3, 1, ParseErrorKind::DuplicateTag("_c.v".into()))
    );
    assert_eq!(
        error("data_m\n_c.v 1\ndata_n\n"),
        (3, 1, ParseErrorKind::MultipleDataBlocks("data_n".into()))
    );
    assert_eq!(
        error("data_m\n_c.v 1\nsave_x\n"),
        (3, 1, ParseErrorKind::ReservedWord("save_x".into()))
    );
    assert_eq!(
        error("data_m\n_c.v $ref\n"),
        (2, 6, ParseErrorKind::ReservedCharacter("$ref".into()))
    );
    assert_eq!(
        error("data_m\n_cv 1\n"),
        (2, 1, ParseErrorKind::MalformedTag("_cv".into()))
    );
    // Tags compare case-insensitively, in pairs and within a loop.
    assert_eq!(
        error("data_m\n_c.v 1\n_C.V 2\n"),
        (3, 1, ParseErrorKind::DuplicateTag("_C.V".into()))
    );
    assert_eq!(
        error("data_m\nloop_\n_c.a\n_c.A\n1 2\n"),
        (4, 1, ParseErrorKind::DuplicateTag("_c.A".into()))
    );
    for tag in ["_.v", "_c.", "_."] {
        assert_eq!(
            error(&format!("data_m\n{tag} 1\n")),
            (2, 1, ParseErrorKind::MalformedTag(tag.into())),
            "{tag}"
        );
    }
    assert_eq!(
        error("data_m\n_c.v 1 2\n"),
        (2, 8, ParseErrorKind::ValueWithoutTag("2".into()))
    );
    let e = parse(
        "data_m\n_c.v 'é?'\n"
            .as_bytes()
            .iter()
            .map(|&b| if b == b'?' { 0xff } else { b })
            .collect::<Vec<_>>()
            .as_slice(),
    )
    .unwrap_err();
    assert_eq!(
        (e.position.line, e.position.column, e.kind),
        (2, 8, ParseErrorKind::InvalidUtf8(0xff))
    );
    assert_eq!(
        error("data_m\n_c.a 1\nloop_\n_c.v\n2\n"),
        (3, 1, ParseErrorKind::MixedCategoryForms("c".into()))
    );
}

/// The shared cif-values cases (docs/domain.md as data). Switched on by `MSGMIG_SHARED_FIXTURES`;
/// when switched on, a missing file is a failure.
#[test]
fn shared_cif_value_cases() {
    let Ok(dir) = std::env::var("MSGMIG_SHARED_FIXTURES") else {
        eprintln!("MSGMIG_SHARED_FIXTURES not set: shared cif-values cases not run");
        return;
    };
    let path = std::path::Path::new(&dir).join("cif-values/cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(
        cases.len() >= 27,
        "expected the 27 shared cases, found {}",
        cases.len()
    );
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let cif = case["cif"].as_str().unwrap();
        if case.get("expected_error").is_some() {
            assert!(parse(cif.as_bytes()).is_err(), "{name}: must fail");
            continue;
        }
        let expected: Vec<Value> = case["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Value::text(s.clone()),
                serde_json::Value::Object(o) if o["null"] == "?" => Value::Unknown,
                serde_json::Value::Object(o) if o["null"] == "." => Value::Inapplicable,
                other => panic!("{name}: unexpected {other}"),
            })
            .collect();
        assert_eq!(values(cif), expected, "case {name}");
    }
}

#[test]
fn multibyte_words_near_reserved_prefixes_are_values() {
    // Found by the writer property test: a prefix check must not slice inside a character.
    assert_eq!(
        one("data_m\n_c.v 'x'\n_c.w dataé\n").clone(),
        Value::text("x")
    );
    let doc = parse("data_m\n_c.v éé_x\n".as_bytes()).unwrap();
    assert_eq!(doc.tables[0].rows[0][0], Value::text("éé_x"));
}
