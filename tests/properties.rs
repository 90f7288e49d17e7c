//! Property tests: event parsing and HCL parse → edit → print never panic, and edits never change a
//! byte outside the lines they own.

use driftfix::finding::parse_event;
use driftfix::terraform::edit;
use driftfix::terraform::index::Index;
use driftfix::terraform::workspace::Workspace;
use proptest::prelude::*;

/// Arbitrary JSON documents, including the keys the detector looks for.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let keys = prop::sample::select(vec![
        "source",
        "detail-type",
        "detail",
        "messageType",
        "Type",
        "TopicArn",
        "Message",
        "findings",
        "resourceType",
        "resourceId",
        "configurationItem",
        "configurationItemSummary",
        "Resources",
        "Id",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "aws.config",
            "aws.securityhub",
            "Notification",
            "ComplianceChangeNotification",
            "ConfigurationItemChangeNotification",
            "OversizedConfigurationItemChangeNotification",
            "AWS::S3::Bucket",
            "AwsS3Bucket",
            "arn:aws:s3:::b",
            "{",
            "",
            "{\"messageType\":1}",
        ])
        .prop_map(serde_json::Value::from),
        "[ -~]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// A small but varied Terraform file: blocks, nested blocks, comments, blank lines, odd spacing.
fn hcl_file() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "[a-z0-9-]{0,8}".prop_map(|s| format!("\"{s}\"")),
        any::<u16>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("var.x".to_owned()),
        Just("[\"0.0.0.0/0\", \"10.0.0.0/8\"]".to_owned()),
        Just("{\n    Name = \"n\"\n  }".to_owned()),
        Just("merge(local.tags, { A = \"b\" })".to_owned()),
        Just("<<EOT\nline one\n  line two\nEOT".to_owned()),
    ];
    let attr = ("[a-z][a-z_]{0,10}", value, prop::sample::select(vec!["", " # note", " // note"]), 1usize..4)
        .prop_map(|(k, v, c, pad)| format!("  {k}KEY{} = {v}{c}\n", " ".repeat(pad - 1)));
    let nested = prop::collection::vec(attr.clone(), 0..3).prop_map(|attrs| {
        let inner: String = attrs.iter().map(|a| format!("  {a}")).collect();
        format!("  nested {{\n{inner}  }}\n")
    });
    let item =
        prop_oneof![3 => attr, 1 => nested, 1 => Just("\n".to_owned()), 1 => Just("  # comment line\n".to_owned())];
    let block = ("[a-z]{1,6}", "[a-z]{1,6}", prop::collection::vec(item, 0..8)).prop_map(|(t, n, items)| {
        // Attribute keys must be unique within a body: number every `KEY` placeholder.
        let mut body = items.concat();
        let mut i = 0;
        while let Some(p) = body.find("KEY") {
            body.replace_range(p..p + 3, &format!("_{i}"));
            i += 1;
        }
        format!("resource \"aws_{t}\" \"{n}\" {{\n{body}}}\n")
    });
    prop::collection::vec((block, prop::sample::select(vec!["", "\n", "# top comment\n"])), 1..5)
        .prop_map(|bs| bs.into_iter().map(|(b, sep)| format!("{sep}{b}")).collect::<Vec<_>>().join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn event_parsing_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_event(&bytes);
    }

    #[test]
    fn event_parsing_never_panics_on_json(v in json_value()) {
        let _ = parse_event(v.to_string().as_bytes());
        // The same document wrapped in an SNS envelope.
        let env = serde_json::json!({"Type": "Notification", "TopicArn": "t", "MessageId": "m", "Message": v.to_string()});
        let _ = parse_event(env.to_string().as_bytes());
    }

    #[test]
    fn parse_then_print_is_byte_identical(src in hcl_file()) {
        let body = hcl_edit::parser::parse_body(&src);
        prop_assert!(body.is_ok(), "generated HCL does not parse: {:?}\n{}", body.err(), src);
        prop_assert_eq!(body.unwrap().to_string(), src);
    }

    #[test]
    fn inserted_attributes_change_only_their_own_line(src in hcl_file(), key in "[a-z]{3,8}_x") {
        let ws = Workspace::from_sources([("main.tf".to_owned(), src.clone())]);
        prop_assume!(ws.errors().is_empty());
        let index = Index::build(&ws);
        for (id, _) in index.resources() {
            let block = index.block(&ws, id);
            prop_assume!(block.body.get_attribute(&key).is_none());
            let e = edit::insert_attribute(&ws, index.resource(id).file, block, &key, "true").unwrap();
            let out = edit::apply(&ws, std::slice::from_ref(&e)).unwrap().remove(&index.resource(id).file).unwrap();
            prop_assert!(hcl_edit::parser::parse_body(&out).is_ok(), "edit broke the file:\n{}", out);
            let inserted = e.text.clone();
            prop_assert!(inserted.trim_end().ends_with("= true"), "{:?}", inserted);
            // Removing the inserted text gives back the original, byte for byte.
            let mut undone = out.clone();
            undone.replace_range(e.range.start..e.range.start + inserted.len(), "");
            prop_assert_eq!(&undone, &src);
        }
    }

    #[test]
    fn nested_blocks_and_removals_keep_files_parsable(src in hcl_file()) {
        let ws = Workspace::from_sources([("main.tf".to_owned(), src.clone())]);
        prop_assume!(ws.errors().is_empty());
        let index = Index::build(&ws);
        for (id, r) in index.resources() {
            let block = index.block(&ws, id);
            let add = edit::insert_nested_block(&ws, r.file, block, "extra {\n  enabled = true\n}\n").unwrap();
            let out = edit::apply(&ws, &[add]).unwrap().remove(&r.file).unwrap();
            prop_assert!(hcl_edit::parser::parse_body(&out).is_ok(), "insert broke the file:\n{}", out);
            let after = edit::insert_after(&ws, r.file, block, "resource \"aws_x\" \"y\" {\n  a = 1\n}\n").unwrap();
            let out = edit::apply(&ws, &[after]).unwrap().remove(&r.file).unwrap();
            prop_assert!(hcl_edit::parser::parse_body(&out).is_ok(), "insert_after broke the file:\n{}", out);
            prop_assert!(out.starts_with(&src[..hcl_edit::Span::span(block).unwrap().end]));
            for nested in block.body.blocks() {
                let rm = edit::remove_block(&ws, r.file, nested).unwrap();
                let out = edit::apply(&ws, &[rm]).unwrap().remove(&r.file).unwrap();
                prop_assert!(hcl_edit::parser::parse_body(&out).is_ok(), "remove broke the file:\n{}", out);
            }
        }
    }

    #[test]
    fn workspaces_never_panic_on_arbitrary_text(text in "[ -~\n\t{}\"=#]{0,400}") {
        let ws = Workspace::from_sources([("main.tf".to_owned(), text)]);
        let index = Index::build(&ws);
        let _ = driftfix::scan::scan(&ws, &index, &Default::default(), &Default::default());
    }
}

#[test]
fn deeply_nested_hcl_is_an_error_not_a_crash() {
    let deep = format!("a = {}1{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let ws = Workspace::from_sources([("deep.tf".to_owned(), deep)]);
    assert_eq!(ws.errors().len(), 1);
    let blocks = format!("{}{}", "a {\n".repeat(5_000), "}\n".repeat(5_000));
    let ws = Workspace::from_sources([("deep.tf".to_owned(), blocks)]);
    assert_eq!(ws.errors().len(), 1);
}
