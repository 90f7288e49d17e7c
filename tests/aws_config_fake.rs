//! The fake AWS Config (tests/support/aws_config.rs) on its own, over real HTTP: its operations,
//! input shapes, answers and error codes held against botocore's service model for `config`
//! 2014-11-12 (fetched by `.ci/run`), and its behaviour — paging, filters, evaluations, faults,
//! SigV4 form, AWS's validation errors, unexpected targets — which the AWS-side tests rely on.

mod support;

use serde_json::{Value, json};
use support::aws_config::{
    ACCESS_KEY_ID, ACCOUNT_ID, COMMON_ERRORS, CONTENT_TYPE, FakeAwsConfig, OPERATIONS, Operation, REGION,
};
use support::botocore::Model;

const SSH_RULE: &str = "restricted-ssh";
const SG: &str = "AWS::EC2::SecurityGroup";
const BUCKET: &str = "AWS::S3::Bucket";
const SIGNATURE: &str = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

// ---------------------------------------------------------------------------------------------
// A raw JSON 1.1 client: requests shaped like the SDK's, with a well-formed (not computed) SigV4

struct Call {
    target: String,
    body: String,
    key: String,
    region: String,
    service: String,
    authorization: Option<String>,
    content_type: String,
    extra: Vec<(String, String)>,
}

impl Call {
    fn new(operation: &str, body: Value) -> Call {
        Call {
            target: format!("StarlingDoveService.{operation}"),
            body: body.to_string(),
            key: ACCESS_KEY_ID.to_owned(),
            region: REGION.to_owned(),
            service: "config".to_owned(),
            authorization: None,
            content_type: CONTENT_TYPE.to_owned(),
            extra: Vec::new(),
        }
    }

    fn raw_body(mut self, body: &str) -> Call {
        self.body = body.to_owned();
        self
    }

    fn target(mut self, target: &str) -> Call {
        self.target = target.to_owned();
        self
    }

    fn key(mut self, key: &str) -> Call {
        self.key = key.to_owned();
        self
    }

    fn scope(mut self, region: &str, service: &str) -> Call {
        (self.region, self.service) = (region.to_owned(), service.to_owned());
        self
    }

    /// Replace the whole `Authorization` header (empty: send none).
    fn authorization(mut self, value: &str) -> Call {
        self.authorization = Some(value.to_owned());
        self
    }

    fn header(mut self, name: &str, value: &str) -> Call {
        self.extra.push((name.to_owned(), value.to_owned()));
        self
    }

    fn signed_headers(&self) -> String {
        let mut names = vec!["content-type", "host", "x-amz-date", "x-amz-target"];
        names.extend(self.extra.iter().map(|(n, _)| n.as_str()).filter(|n| n.starts_with("x-amz-")));
        names.sort_unstable();
        names.join(";")
    }

    async fn send(self, fake: &FakeAwsConfig) -> (u16, Value) {
        let authorization = self.authorization.clone().unwrap_or_else(|| {
            format!(
                "AWS4-HMAC-SHA256 Credential={}/20261123/{}/{}/aws4_request, SignedHeaders={}, Signature={SIGNATURE}",
                self.key,
                self.region,
                self.service,
                self.signed_headers()
            )
        });
        let mut request = reqwest::Client::new()
            .post(format!("{}/", fake.url()))
            .header("content-type", &self.content_type)
            .header("x-amz-target", &self.target)
            .header("x-amz-date", "20261123T100000Z")
            .body(self.body);
        if !authorization.is_empty() {
            request = request.header("authorization", authorization);
        }
        for (k, v) in &self.extra {
            request = request.header(k, v);
        }
        let response = request.send().await.expect("the fake answers");
        let status = response.status().as_u16();
        assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
        assert!(response.headers().contains_key("x-amzn-requestid"));
        (status, serde_json::from_str(&response.text().await.expect("body")).expect("JSON answer"))
    }
}

async fn call(fake: &FakeAwsConfig, operation: &str, body: Value) -> (u16, Value) {
    Call::new(operation, body).send(fake).await
}

/// A successful call's answer.
async fn ok(fake: &FakeAwsConfig, operation: &str, body: Value) -> Value {
    let (status, answer) = call(fake, operation, body.clone()).await;
    assert_eq!(status, 200, "{operation} {body} → {answer}");
    answer
}

/// The error code as clients read it: `__type` without namespace (`…#`) or URL suffix (`:…`).
fn code(answer: &Value) -> String {
    let raw = answer["__type"].as_str().unwrap_or_default();
    let raw = raw.split(':').next().unwrap_or_default();
    raw.rsplit('#').next().unwrap_or_default().to_owned()
}

/// A failed call's (status, error code, message).
async fn fails(call: Call, fake: &FakeAwsConfig) -> (u16, String, String) {
    let (status, answer) = call.send(fake).await;
    assert_ne!(status, 200, "{answer}");
    (status, code(&answer), answer["message"].as_str().unwrap_or_default().to_owned())
}

fn names(results: &Value, pointer: &str) -> Vec<String> {
    results
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r.pointer(pointer).and_then(Value::as_str).unwrap_or("?").to_owned())
        .collect()
}

fn resource_ids(answer: &Value, key: &str) -> Vec<String> {
    names(&answer[key], "/EvaluationResultIdentifier/EvaluationResultQualifier/ResourceId")
}

/// A fake with three rules and a few results.
async fn seeded() -> FakeAwsConfig {
    let fake = FakeAwsConfig::start().await;
    fake.set_now(1_795_860_000.0);
    fake.add_rule(SSH_RULE, "INCOMING_SSH_DISABLED", &Value::Null, &[SG]);
    fake.add_rule(
        "restricted-common-ports",
        "RESTRICTED_INCOMING_TRAFFIC",
        &json!({ "blockedPort1": "20", "blockedPort2": "21", "blockedPort3": "3389" }),
        &[SG],
    );
    fake.add_rule("s3-versioning", "S3_BUCKET_VERSIONING_ENABLED", &json!({}), &[BUCKET]);
    for (id, compliance) in [("sg-1", "NON_COMPLIANT"), ("sg-2", "COMPLIANT"), ("sg-3", "NON_COMPLIANT")] {
        fake.set_compliance(SSH_RULE, SG, id, compliance);
    }
    fake.set_compliance("restricted-common-ports", SG, "sg-1", "NON_COMPLIANT");
    fake.add_aggregator("org");
    fake
}

fn assert_only_expected(fake: &FakeAwsConfig) {
    assert_eq!(fake.unexpected().iter().map(|l| l.target.clone()).collect::<Vec<_>>(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// The fake against botocore's model

/// botocore's model for AWS Config (`.ci/run` sets `DRIFTFIX_TEST_BOTOCORE_CONFIG_MODEL`). Like the
/// other checks against outside descriptions, a missing model fails unless skipped on purpose with
/// `DRIFTFIX_SKIP_BOTOCORE=1`.
fn botocore_model() -> Option<Model> {
    if std::env::var_os("DRIFTFIX_SKIP_BOTOCORE").is_some() {
        return None;
    }
    let path = std::env::var("DRIFTFIX_TEST_BOTOCORE_CONFIG_MODEL").expect(
        "DRIFTFIX_TEST_BOTOCORE_CONFIG_MODEL is not set: run .ci/run, or DRIFTFIX_SKIP_BOTOCORE=1 to skip the model check",
    );
    Some(Model::load(std::path::Path::new(&path)))
}

/// (a) the protocol and every operation; the fake's input shapes equal the model's; (c) the error
/// codes the fake declares are the model's or common ones, for the forwarded operations too.
fn check_static(model: &Model) -> Vec<String> {
    let meta = model.metadata();
    let mut problems = Vec::new();
    for (key, want) in [("protocol", "json"), ("jsonVersion", "1.1"), ("targetPrefix", "StarlingDoveService")] {
        if meta[key] != want {
            problems.push(format!("metadata.{key} is {}, the fake speaks {want}", meta[key]));
        }
    }
    if meta["endpointPrefix"] != "config" || meta["signatureVersion"] != "v4" {
        problems.push(format!(
            "signing: endpointPrefix {} / signatureVersion {}",
            meta["endpointPrefix"], meta["signatureVersion"]
        ));
    }
    for op in OPERATIONS {
        let Some(o) = model.operation(op.name) else {
            problems.push(format!("{} is not an operation of the model", op.name));
            continue;
        };
        if o["http"]["method"] != "POST" || o["http"]["requestUri"] != "/" {
            problems.push(format!("{}: http is {}", op.name, o["http"]));
        }
        match model.input_shape(op.name).and_then(|s| model.shape(s)) {
            Some(shape) => model.compare_members(shape, op.input, op.name, &mut problems),
            None => problems.push(format!("{}: no input shape", op.name)),
        }
        let declared = model.errors(op.name);
        for e in op.errors.iter().filter(|e| !declared.iter().any(|d| d == *e)) {
            problems.push(format!("{}: the fake answers {e}, which the model does not declare", op.name));
        }
    }
    for op in support::aws_config::FORWARDED_OPERATIONS {
        if model.operation(op.name).is_none() {
            problems.push(format!("{} (forwarded) is not an operation of the model", op.name));
        }
        let declared = model.errors(op.name);
        for e in op.errors.iter().filter(|e| !declared.iter().any(|d| d == *e)) {
            problems.push(format!("{}: a fault {e} can be queued, which the model does not declare", op.name));
        }
    }
    for e in COMMON_ERRORS {
        if !is_common(e) {
            problems.push(format!("{e} is not a common AWS error"));
        }
    }
    problems
}

/// Errors AWS answers for any operation without declaring them: throttling and auth come from the
/// front end, validation and (de)serialisation from the service framework. Listed on purpose, so
/// that a code added to the fake's common list has to be added here too.
fn is_common(code: &str) -> bool {
    const COMMON: &[&str] = &[
        "ThrottlingException",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
        "InvalidSignatureException",
        "AccessDeniedException",
        "ValidationException",
        "SerializationException",
        "UnknownOperationException",
        "InternalFailure",
        "ServiceUnavailable",
    ];
    COMMON.contains(&code)
}

/// Sample requests reaching every operation and every input member, good and failing.
async fn exercise_every_operation(fake: &FakeAwsConfig) {
    fake.set_page_size(2);
    let first = ok(fake, "DescribeConfigRules", json!({})).await;
    assert!(first["NextToken"].is_string(), "three rules, two per page");
    ok(fake, "DescribeConfigRules", json!({ "NextToken": first["NextToken"] })).await;
    let filters = json!({ "EvaluationMode": "DETECTIVE", "RuleEvaluationVisibility": "EXTERNAL" });
    ok(fake, "DescribeConfigRules", json!({ "ConfigRuleNames": [SSH_RULE], "Filters": filters })).await;
    call(fake, "DescribeConfigRules", json!({ "ConfigRuleNames": ["nope"] })).await;
    call(fake, "DescribeConfigRules", json!({ "NextToken": "garbage" })).await;
    let by_rule = json!({ "ConfigRuleName": SSH_RULE, "ComplianceTypes": ["NON_COMPLIANT", "COMPLIANT"], "Limit": 1 });
    let page = ok(fake, "GetComplianceDetailsByConfigRule", by_rule.clone()).await;
    assert!(page["NextToken"].is_string(), "three results: three pages");
    let mut next = by_rule.clone();
    next["NextToken"] = page["NextToken"].clone();
    ok(fake, "GetComplianceDetailsByConfigRule", next).await;
    call(fake, "GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": "nope" })).await;
    call(
        fake,
        "GetComplianceDetailsByConfigRule",
        json!({ "ConfigRuleName": SSH_RULE, "ComplianceTypes": ["INSUFFICIENT_DATA"] }),
    )
    .await;
    ok(
        fake,
        "GetComplianceDetailsByResource",
        json!({ "ResourceType": SG, "ResourceId": "sg-1", "ComplianceTypes": ["NON_COMPLIANT"] }),
    )
    .await;
    ok(fake, "GetComplianceDetailsByResource", json!({ "ResourceEvaluationId": "eval-1" })).await;
    call(fake, "GetComplianceDetailsByResource", json!({ "ResourceType": SG, "ResourceId": "sg-1", "NextToken": "x" }))
        .await;
    call(fake, "GetComplianceDetailsByResource", json!({ "ResourceType": SG })).await;
    fake.set_compliance_on_next_evaluation(SSH_RULE, SG, "sg-1", "COMPLIANT");
    ok(fake, "StartConfigRulesEvaluation", json!({ "ConfigRuleNames": [SSH_RULE] })).await;
    call(fake, "StartConfigRulesEvaluation", json!({ "ConfigRuleNames": ["nope"] })).await;
    fake.set_evaluation_lag(1);
    ok(fake, "StartConfigRulesEvaluation", json!({ "ConfigRuleNames": ["s3-versioning"] })).await;
    call(fake, "StartConfigRulesEvaluation", json!({ "ConfigRuleNames": ["s3-versioning"] })).await;
    ok(fake, "DescribeComplianceByConfigRule", json!({})).await;
    ok(
        fake,
        "DescribeComplianceByConfigRule",
        json!({ "ConfigRuleNames": [SSH_RULE], "ComplianceTypes": ["NON_COMPLIANT"] }),
    )
    .await;
    call(fake, "DescribeComplianceByConfigRule", json!({ "ConfigRuleNames": ["nope"] })).await;
    let aggregate = json!({ "ConfigurationAggregatorName": "org", "ConfigRuleName": SSH_RULE, "AccountId": ACCOUNT_ID,
        "AwsRegion": REGION, "ComplianceType": "COMPLIANT", "Limit": 1 });
    let page = ok(fake, "GetAggregateComplianceDetailsByConfigRule", aggregate.clone()).await;
    assert!(page["NextToken"].is_string(), "sg-1 and sg-2 are compliant now: two pages");
    let mut next = aggregate.clone();
    next["NextToken"] = page["NextToken"].clone();
    ok(fake, "GetAggregateComplianceDetailsByConfigRule", next).await;
    let mut other = aggregate.clone();
    other["ConfigurationAggregatorName"] = json!("missing");
    call(fake, "GetAggregateComplianceDetailsByConfigRule", other).await;
    // Canned histories (what moto cannot record): a deletion after the last recorded state.
    let bucket = "AWS::S3::Bucket";
    let items = vec![
        support::aws_config::configuration_item(bucket, "gone", "ResourceDeleted", 1_700_000_100.5),
        support::aws_config::configuration_item(bucket, "gone", "OK", 1_700_000_000.0),
    ];
    fake.set_history(bucket, "gone", items);
    let history = json!({ "resourceType": bucket, "resourceId": "gone", "limit": 1, "chronologicalOrder": "Reverse" });
    let answer = ok(fake, "GetResourceConfigHistory", history).await;
    assert_eq!(answer["configurationItems"][0]["configurationItemStatus"], "ResourceDeleted");
    assert_eq!(answer["configurationItems"].as_array().map(Vec::len), Some(1), "the limit holds");
    for op in OPERATIONS {
        fake.fail_next(op.name, 1, 400, "ThrottlingException");
        call(fake, op.name, json!({})).await;
    }
    call(fake, "DescribeConfigRules", json!({ "ConfigRuleNames": "one" })).await;
    call(fake, "GetComplianceDetailsByConfigRule", json!({})).await;
}

/// (b) every request answered 200 fits the input shape and its answer the output shape; every
/// error answer is a declared or common code in AWS's error body.
fn check_log(model: &Model, fake: &FakeAwsConfig) -> Vec<String> {
    let mut problems = Vec::new();
    let mut answered = std::collections::BTreeSet::new();
    for l in fake.log() {
        let Some(op) = l.operation else { continue };
        let request = l.request.clone().unwrap_or(Value::Null);
        if l.status == 200 {
            answered.insert(op);
            if let Err(e) = model.validate_input(op, &request) {
                problems.push(format!("{op} request {request}: {e:?}"));
            }
            if let Err(e) = model.validate_output(op, &l.response) {
                problems.push(format!("{op} answer {}: {e:?}", l.response));
            }
            continue;
        }
        let error = l.error.clone().unwrap_or_default();
        if !(model.errors(op).contains(&error) || is_common(&error)) || code(&l.response) != error {
            problems.push(format!("{op} answered {error} ({}), neither declared nor common", l.response));
        }
        let listed = support::aws_config::operation(op).is_some_and(|o| o.errors.contains(&error.as_str()));
        if !listed && !COMMON_ERRORS.contains(&error.as_str()) {
            problems.push(format!("{op} answered {error}, missing from the fake's own list for it"));
        }
        if !l.response["message"].is_string() || l.response.as_object().is_none_or(|o| o.len() != 2) {
            problems.push(format!("{op}: error body {}", l.response));
        }
    }
    for op in OPERATIONS.iter().filter(|o| !answered.contains(o.name)) {
        problems.push(format!("{}: no successful exchange was checked", op.name));
    }
    problems
}

/// Requests the fake rejects are rejected by the model too, and the reverse for accepted ones.
fn check_validation_agrees(model: &Model) -> Vec<String> {
    let samples: &[(&str, Value)] = &[
        (
            "GetComplianceDetailsByConfigRule",
            json!({ "ConfigRuleName": SSH_RULE, "Limit": 100, "ComplianceTypes": [] }),
        ),
        ("GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": SSH_RULE, "Limit": 101 })),
        ("GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": "x".repeat(65) })),
        ("GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": SSH_RULE, "ComplianceTypes": ["GREEN"] })),
        ("GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": SSH_RULE, "Extra": 1 })),
        ("GetComplianceDetailsByConfigRule", json!({ "Limit": 1 })),
        ("StartConfigRulesEvaluation", json!({ "ConfigRuleNames": [] })),
        (
            "StartConfigRulesEvaluation",
            json!({ "ConfigRuleNames": (0..26).map(|i| format!("r{i}")).collect::<Vec<_>>() }),
        ),
        ("DescribeConfigRules", json!({ "Filters": { "EvaluationMode": "LAZY" } })),
        ("DescribeConfigRules", json!({ "ConfigRuleNames": [""] })),
        ("GetComplianceDetailsByResource", json!({ "ResourceType": SG, "ResourceId": "x".repeat(769) })),
        (
            "GetAggregateComplianceDetailsByConfigRule",
            json!({ "ConfigurationAggregatorName": "org",
            "ConfigRuleName": SSH_RULE, "AccountId": ACCOUNT_ID, "AwsRegion": "" }),
        ),
    ];
    let mut problems = Vec::new();
    for (op_name, body) in samples {
        let op: &Operation = support::aws_config::operation(op_name).expect("served");
        let fake_accepts = support::aws_config::validate_input(op, body).is_ok();
        let model_accepts = model.validate_input(op_name, body).is_ok();
        if fake_accepts != model_accepts {
            problems.push(format!("{op_name} {body}: the fake accepts: {fake_accepts}, the model: {model_accepts}"));
        }
    }
    problems
}

#[tokio::test]
async fn the_fake_matches_botocores_config_model() {
    let Some(model) = botocore_model() else { return };
    assert_eq!(check_static(&model), Vec::<String>::new());
    assert_eq!(check_validation_agrees(&model), Vec::<String>::new());
    let fake = seeded().await;
    exercise_every_operation(&fake).await;
    assert_eq!(check_log(&model, &fake), Vec::<String>::new());
    assert_only_expected(&fake);
}

// ---------------------------------------------------------------------------------------------
// Behaviour over HTTP

#[tokio::test]
async fn describe_config_rules_filters_by_name_and_pages() {
    let fake = seeded().await;
    let one = ok(&fake, "DescribeConfigRules", json!({ "ConfigRuleNames": ["restricted-common-ports"] })).await;
    let rule = &one["ConfigRules"][0];
    assert_eq!(rule["Source"], json!({ "Owner": "AWS", "SourceIdentifier": "RESTRICTED_INCOMING_TRAFFIC" }));
    let params: Value = serde_json::from_str(rule["InputParameters"].as_str().expect("a JSON string")).unwrap();
    assert_eq!(params["blockedPort3"], "3389");
    assert_eq!(rule["Scope"]["ComplianceResourceTypes"], json!([SG]));
    assert!(
        rule["ConfigRuleArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:config:us-east-1:123456789012:config-rule/config-rule-")
    );
    assert!(one.get("NextToken").is_none());

    fake.set_page_size(2);
    let first = ok(&fake, "DescribeConfigRules", json!({})).await;
    assert_eq!(names(&first["ConfigRules"], "/ConfigRuleName"), [SSH_RULE, "restricted-common-ports"]);
    let token = first["NextToken"].as_str().expect("a next page");
    let second = ok(&fake, "DescribeConfigRules", json!({ "NextToken": token })).await;
    assert_eq!(names(&second["ConfigRules"], "/ConfigRuleName"), ["s3-versioning"]);
    assert!(second.get("NextToken").is_none());

    let (status, code, message) =
        fails(Call::new("DescribeConfigRules", json!({ "ConfigRuleNames": [SSH_RULE, "gone"] })), &fake).await;
    assert_eq!((status, code.as_str()), (400, "NoSuchConfigRuleException"));
    assert!(message.contains("'gone'"), "{message}");
    let proactive = ok(&fake, "DescribeConfigRules", json!({ "Filters": { "EvaluationMode": "PROACTIVE" } })).await;
    assert_eq!(proactive["ConfigRules"], json!([]));
    let other_op_token = support::aws_config::encode_token("DescribeComplianceByConfigRule", 1);
    let (_, code, _) = fails(Call::new("DescribeConfigRules", json!({ "NextToken": other_op_token })), &fake).await;
    assert_eq!(code, "InvalidNextTokenException");
    assert_only_expected(&fake);
}

#[tokio::test]
async fn compliance_details_by_rule_filter_and_page_with_limit() {
    let fake = seeded().await;
    let all = ok(&fake, "GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": SSH_RULE })).await;
    assert_eq!(resource_ids(&all, "EvaluationResults"), ["sg-1", "sg-2", "sg-3"]);
    let r = &all["EvaluationResults"][0];
    assert_eq!(r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["EvaluationMode"], "DETECTIVE");
    assert_eq!(r["EvaluationResultIdentifier"]["OrderingTimestamp"], json!(1_795_860_000.0), "epoch seconds, a number");
    assert_eq!(r["ResultRecordedTime"], json!(1_795_860_000.0));

    let body = json!({ "ConfigRuleName": SSH_RULE, "ComplianceTypes": ["NON_COMPLIANT"], "Limit": 1 });
    let mut seen = Vec::new();
    let mut request = body.clone();
    loop {
        let page = ok(&fake, "GetComplianceDetailsByConfigRule", request.clone()).await;
        seen.extend(resource_ids(&page, "EvaluationResults"));
        match page.get("NextToken") {
            Some(t) => request["NextToken"] = t.clone(),
            None => break,
        }
    }
    assert_eq!(seen, ["sg-1", "sg-3"], "one per page, the filter kept");

    for _ in 0..12 {
        fake.set_compliance(SSH_RULE, SG, &format!("sg-x{}", fake.evaluations().len()), "NON_COMPLIANT");
    }
    let default =
        ok(&fake, "GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": SSH_RULE, "Limit": 0 })).await;
    assert_eq!(default["EvaluationResults"].as_array().unwrap().len(), 10, "Limit 0 means the default, 10");
    let insufficient = json!({ "ConfigRuleName": SSH_RULE, "ComplianceTypes": ["INSUFFICIENT_DATA"] });
    let (_, code, _) = fails(Call::new("GetComplianceDetailsByConfigRule", insufficient), &fake).await;
    assert_eq!(code, "InvalidParameterValueException", "INSUFFICIENT_DATA cannot filter");
    let (_, code, _) =
        fails(Call::new("GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": "gone" })), &fake).await;
    assert_eq!(code, "NoSuchConfigRuleException");
    assert_only_expected(&fake);
}

#[tokio::test]
async fn compliance_details_by_resource_cover_every_rule() {
    let fake = seeded().await;
    let sg1 = ok(&fake, "GetComplianceDetailsByResource", json!({ "ResourceType": SG, "ResourceId": "sg-1" })).await;
    let rules =
        names(&sg1["EvaluationResults"], "/EvaluationResultIdentifier/EvaluationResultQualifier/ConfigRuleName");
    assert_eq!(rules, [SSH_RULE, "restricted-common-ports"]);
    let compliant = json!({ "ResourceType": SG, "ResourceId": "sg-1", "ComplianceTypes": ["COMPLIANT"] });
    assert_eq!(ok(&fake, "GetComplianceDetailsByResource", compliant).await["EvaluationResults"], json!([]));
    let unknown =
        ok(&fake, "GetComplianceDetailsByResource", json!({ "ResourceType": SG, "ResourceId": "sg-404" })).await;
    assert_eq!(unknown["EvaluationResults"], json!([]), "an unknown resource has no results, not an error");

    fake.delete_resource(SG, "sg-1");
    let gone = ok(&fake, "GetComplianceDetailsByResource", json!({ "ResourceType": SG, "ResourceId": "sg-1" })).await;
    assert_eq!(gone["EvaluationResults"], json!([]), "a deleted resource's results are dropped");
    for body in [json!({ "ResourceType": SG }), json!({ "ResourceId": "sg-1", "ResourceEvaluationId": "e" }), json!({})]
    {
        let (_, code, _) = fails(Call::new("GetComplianceDetailsByResource", body), &fake).await;
        assert_eq!(code, "InvalidParameterValueException");
    }
    assert_only_expected(&fake);
}

#[tokio::test]
async fn start_evaluation_records_the_call_and_applies_the_queued_results() {
    let fake = seeded().await;
    fake.set_compliance_on_next_evaluation(SSH_RULE, SG, "sg-1", "COMPLIANT");
    fake.set_now(1_795_860_600.5);
    assert_eq!(ok(&fake, "StartConfigRulesEvaluation", json!({ "ConfigRuleNames": [SSH_RULE] })).await, json!({}));
    assert_eq!(fake.evaluations_started(), vec![vec![SSH_RULE.to_owned()]]);
    let now = fake.evaluation(SSH_RULE, SG, "sg-1").expect("result");
    assert_eq!((now.compliance.as_str(), now.invoked, now.recorded), ("COMPLIANT", 1_795_860_600.5, 1_795_860_600.5));
    let sg3 = fake.evaluation(SSH_RULE, SG, "sg-3").expect("result");
    assert_eq!(
        (sg3.compliance.as_str(), sg3.ordering, sg3.recorded),
        ("NON_COMPLIANT", 1_795_860_000.0, 1_795_860_600.5)
    );
    let answer = ok(&fake, "GetComplianceDetailsByResource", json!({ "ResourceType": SG, "ResourceId": "sg-1" })).await;
    assert_eq!(answer["EvaluationResults"][0]["ComplianceType"], "COMPLIANT");
    assert_eq!(answer["EvaluationResults"][0]["ConfigRuleInvokedTime"], json!(1_795_860_600.5));

    fake.set_compliance_on_next_evaluation("s3-versioning", BUCKET, "logs", "NON_COMPLIANT");
    ok(&fake, "StartConfigRulesEvaluation", json!({ "ConfigRuleNames": [SSH_RULE] })).await;
    assert_eq!(fake.evaluation("s3-versioning", BUCKET, "logs"), None, "queued for another rule: kept");
    let (_, code, _) =
        fails(Call::new("StartConfigRulesEvaluation", json!({ "ConfigRuleNames": [SSH_RULE, "gone"] })), &fake).await;
    assert_eq!(code, "NoSuchConfigRuleException");
    let (_, code, _) = fails(Call::new("StartConfigRulesEvaluation", json!({})), &fake).await;
    assert_eq!(code, "InvalidParameterValueException");
    assert_eq!(fake.evaluations_started().len(), 2, "refused starts are not recorded");
    assert_only_expected(&fake);
}

#[tokio::test]
async fn a_slow_evaluation_shows_old_results_then_new_and_refuses_a_second_start() {
    let fake = seeded().await;
    fake.set_evaluation_lag(2);
    fake.set_compliance_on_next_evaluation(SSH_RULE, SG, "sg-1", "COMPLIANT");
    ok(&fake, "StartConfigRulesEvaluation", json!({ "ConfigRuleNames": [SSH_RULE] })).await;
    let (_, code, _) =
        fails(Call::new("StartConfigRulesEvaluation", json!({ "ConfigRuleNames": [SSH_RULE] })), &fake).await;
    assert_eq!(code, "LimitExceededException", "an evaluation is in progress");
    let read = json!({ "ResourceType": SG, "ResourceId": "sg-1", "ComplianceTypes": ["NON_COMPLIANT"] });
    let stale = ok(&fake, "GetComplianceDetailsByResource", read.clone()).await;
    assert_eq!(stale["EvaluationResults"].as_array().unwrap().len(), 2, "both rules still NON_COMPLIANT");
    let fresh = ok(&fake, "GetComplianceDetailsByResource", read).await;
    assert_eq!(resource_ids(&fresh, "EvaluationResults"), ["sg-1"], "only restricted-common-ports is left");

    fake.set_compliance_on_next_evaluation(SSH_RULE, SG, "sg-3", "COMPLIANT");
    ok(&fake, "StartConfigRulesEvaluation", json!({ "ConfigRuleNames": [SSH_RULE] })).await;
    fake.complete_evaluations();
    assert_eq!(fake.evaluation(SSH_RULE, SG, "sg-3").unwrap().compliance, "COMPLIANT");
    assert_only_expected(&fake);
}

#[tokio::test]
async fn describe_compliance_by_config_rule_summarises_each_rule() {
    let fake = seeded().await;
    let all = ok(&fake, "DescribeComplianceByConfigRule", json!({})).await;
    assert_eq!(
        all["ComplianceByConfigRules"],
        json!([
            { "ConfigRuleName": SSH_RULE, "Compliance": { "ComplianceType": "NON_COMPLIANT",
                "ComplianceContributorCount": { "CappedCount": 2, "CapExceeded": false } } },
            { "ConfigRuleName": "restricted-common-ports", "Compliance": { "ComplianceType": "NON_COMPLIANT",
                "ComplianceContributorCount": { "CappedCount": 1, "CapExceeded": false } } },
            { "ConfigRuleName": "s3-versioning", "Compliance": { "ComplianceType": "INSUFFICIENT_DATA" } },
        ])
    );
    fake.set_compliance("s3-versioning", BUCKET, "logs", "COMPLIANT");
    let compliant = ok(&fake, "DescribeComplianceByConfigRule", json!({ "ComplianceTypes": ["COMPLIANT"] })).await;
    assert_eq!(names(&compliant["ComplianceByConfigRules"], "/ConfigRuleName"), ["s3-versioning"]);
    let (_, code, _) =
        fails(Call::new("DescribeComplianceByConfigRule", json!({ "ConfigRuleNames": ["gone"] })), &fake).await;
    assert_eq!(code, "NoSuchConfigRuleException");
    assert_only_expected(&fake);
}

#[tokio::test]
async fn aggregate_compliance_details_for_this_account_and_region() {
    let fake = seeded().await;
    let body = |account: &str, region: &str| {
        json!({ "ConfigurationAggregatorName": "org", "ConfigRuleName": SSH_RULE, "AccountId": account,
            "AwsRegion": region, "ComplianceType": "NON_COMPLIANT" })
    };
    let here = ok(&fake, "GetAggregateComplianceDetailsByConfigRule", body(ACCOUNT_ID, REGION)).await;
    assert_eq!(resource_ids(&here, "AggregateEvaluationResults"), ["sg-1", "sg-3"]);
    assert_eq!(here["AggregateEvaluationResults"][0]["AccountId"], ACCOUNT_ID);
    assert_eq!(here["AggregateEvaluationResults"][0]["AwsRegion"], REGION);
    let elsewhere = ok(&fake, "GetAggregateComplianceDetailsByConfigRule", body("210987654321", REGION)).await;
    assert_eq!(elsewhere["AggregateEvaluationResults"], json!([]));
    let mut missing = body(ACCOUNT_ID, REGION);
    missing["ConfigurationAggregatorName"] = json!("nobody");
    let (_, code, _) = fails(Call::new("GetAggregateComplianceDetailsByConfigRule", missing), &fake).await;
    assert_eq!(code, "NoSuchConfigurationAggregatorException");
    let mut not_applicable = body(ACCOUNT_ID, REGION);
    not_applicable["ComplianceType"] = json!("NOT_APPLICABLE");
    let (_, code, _) = fails(Call::new("GetAggregateComplianceDetailsByConfigRule", not_applicable), &fake).await;
    assert_eq!(code, "ValidationException", "only COMPLIANT and NON_COMPLIANT filter aggregates");
    let mut bad_account = body("12345", REGION);
    bad_account["Limit"] = json!(5);
    let (_, code, message) = fails(Call::new("GetAggregateComplianceDetailsByConfigRule", bad_account), &fake).await;
    assert_eq!(code, "ValidationException");
    assert!(
        message.contains(
            r"at 'accountId' failed to satisfy constraint: Member must satisfy regular expression pattern: \d{12}"
        ),
        "{message}"
    );
    assert_only_expected(&fake);
}

#[tokio::test]
async fn faults_fire_n_times_then_stop() {
    let fake = seeded().await;
    fake.fail_next("DescribeConfigRules", 2, 400, "ThrottlingException");
    fake.fail_next("GetComplianceDetailsByConfigRule", 1, 400, "ExpiredTokenException");
    for _ in 0..2 {
        let (status, code, message) = fails(Call::new("DescribeConfigRules", json!({})), &fake).await;
        assert_eq!((status, code.as_str(), message.as_str()), (400, "ThrottlingException", "Rate exceeded"));
    }
    ok(&fake, "DescribeConfigRules", json!({})).await;
    let (status, code, message) =
        fails(Call::new("GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": SSH_RULE })), &fake).await;
    assert_eq!((status, code.as_str()), (400, "ExpiredTokenException"));
    assert_eq!(message, "The security token included in the request is expired");
    ok(&fake, "GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": SSH_RULE })).await;
    fake.fail_next("StartConfigRulesEvaluation", 1, 503, "ServiceUnavailable");
    let (status, code, _) =
        fails(Call::new("StartConfigRulesEvaluation", json!({ "ConfigRuleNames": [SSH_RULE] })), &fake).await;
    assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"));
    assert_eq!(fake.evaluations_started(), Vec::<Vec<String>>::new(), "a faulted start starts nothing");
    let injected: Vec<bool> = fake.log().iter().map(|l| l.injected).collect();
    assert_eq!(injected, [true, true, false, true, false, true]);
    assert_only_expected(&fake);
}

#[test]
#[should_panic(expected = "cannot answer NoSuchConfigurationAggregatorException")]
fn faults_must_be_codes_the_operation_can_answer() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let fake = runtime.block_on(FakeAwsConfig::start());
    fake.fail_next("DescribeConfigRules", 1, 400, "NoSuchConfigurationAggregatorException");
}

#[tokio::test]
async fn unexpected_targets_are_logged_and_answered_unknown_operation() {
    let fake = seeded().await;
    for call in [
        Call::new("PutEvaluations", json!({})),
        Call::new("DescribeConfigRules", json!({})).target("ConfigService.DescribeConfigRules"),
        Call::new("DescribeConfigRules", json!({})).target("StarlingDoveService"),
        Call { content_type: "application/json".to_owned(), ..Call::new("DescribeConfigRules", json!({})) },
    ] {
        let (status, answer) = call.send(&fake).await;
        assert_eq!(status, 400);
        assert_eq!(
            answer["__type"], "com.amazon.coral.service#UnknownOperationException",
            "namespaced, as AWS sends it"
        );
        assert_eq!(code(&answer), "UnknownOperationException");
    }
    let unexpected: Vec<String> = fake.unexpected().iter().map(|l| l.target.clone()).collect();
    assert_eq!(
        unexpected,
        [
            "StarlingDoveService.PutEvaluations",
            "ConfigService.DescribeConfigRules",
            "StarlingDoveService",
            "StarlingDoveService.DescribeConfigRules"
        ]
    );
    assert_eq!(fake.calls()[0], "?StarlingDoveService.PutEvaluations");
    assert!(fake.unexpected().iter().all(|l| l.access_key.as_deref() == Some(ACCESS_KEY_ID)));
}

#[tokio::test]
async fn requests_must_be_sigv4_signed_in_form() {
    let fake = seeded().await;
    let describe = || Call::new("DescribeConfigRules", json!({}));
    let scope = "AKIAFAKEDRIFTFIX0001/20261123/us-east-1/config/aws4_request";
    let cases: Vec<(Call, &str, &str)> = vec![
        (describe().authorization(""), "MissingAuthenticationTokenException", "Missing Authentication Token"),
        (describe().authorization("Bearer abc"), "IncompleteSignatureException", "requires 'Credential'"),
        (
            describe().authorization(&format!("AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date")),
            "IncompleteSignatureException",
            "requires 'Signature'",
        ),
        (
            describe().authorization(&format!(
                "AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, Signature=XYZ"
            )),
            "IncompleteSignatureException",
            "hexadecimal",
        ),
        (
            describe().key("AKIAUNKNOWNKEY000000"),
            "UnrecognizedClientException",
            "security token included in the request is invalid",
        ),
        (describe().scope(REGION, "s3"), "InvalidSignatureException", "scoped to correct service: 'config'"),
        (describe().scope("eu-west-1", "config"), "InvalidSignatureException", "valid region"),
        (
            describe().authorization(&format!(
                "AWS4-HMAC-SHA256 Credential={}, SignedHeaders=host;x-amz-date;x-amz-target, Signature={SIGNATURE}",
                scope.replace("20261123", "20261124")
            )),
            "InvalidSignatureException",
            "Date in Credential scope does not match",
        ),
        (
            describe().authorization(&format!(
                "AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=x-amz-date;host, Signature={SIGNATURE}"
            )),
            "InvalidSignatureException",
            "signature we calculated does not match",
        ),
    ];
    for (call, want, message_part) in cases {
        let (status, code, message) = fails(call, &fake).await;
        assert_eq!((status, code.as_str()), (400, want), "{message}");
        assert!(message.contains(message_part), "{want}: {message}");
    }
    // An x-amz-* header must be signed: a session token sent but not signed is refused.
    let unsigned = Call::new("DescribeConfigRules", json!({})).authorization(&format!(
        "AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
         Signature={SIGNATURE}"
    ));
    let (_, code, _) = fails(unsigned.header("x-amz-security-token", "token"), &fake).await;
    assert_eq!(code, "InvalidSignatureException");
    ok_with(Call::new("DescribeConfigRules", json!({})).header("x-amz-security-token", "token"), &fake).await;

    fake.accept_key("ASIATEMPORARYKEY0001");
    ok_with(Call::new("DescribeConfigRules", json!({})).key("ASIATEMPORARYKEY0001"), &fake).await;
    fake.revoke_key("ASIATEMPORARYKEY0001");
    let (_, code, _) = fails(Call::new("DescribeConfigRules", json!({})).key("ASIATEMPORARYKEY0001"), &fake).await;
    assert_eq!(code, "UnrecognizedClientException");
    let keys: Vec<Option<String>> = fake.log().iter().rev().take(1).map(|l| l.access_key.clone()).collect();
    assert_eq!(keys, [Some("ASIATEMPORARYKEY0001".to_owned())]);
    assert_only_expected(&fake);
}

async fn ok_with(call: Call, fake: &FakeAwsConfig) {
    let (status, answer) = call.send(fake).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn bodies_are_validated_in_aws_words() {
    let fake = seeded().await;
    let cases: Vec<(Call, &str, &str)> = vec![
        (
            Call::new("GetComplianceDetailsByConfigRule", json!({})),
            "ValidationException",
            "1 validation error detected: Value null at 'configRuleName' failed to satisfy constraint: \
             Member must not be null",
        ),
        (
            Call::new(
                "GetComplianceDetailsByConfigRule",
                json!({ "ConfigRuleName": SSH_RULE, "Limit": 101, "ComplianceTypes": ["GREEN"] }),
            ),
            "ValidationException",
            "2 validation errors detected: Value 'GREEN' at 'complianceTypes.1.member' failed to satisfy constraint: \
             Member must satisfy enum value set: [COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, INSUFFICIENT_DATA]; \
             Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100",
        ),
        (
            Call::new("StartConfigRulesEvaluation", json!({ "ConfigRuleNames": [] })),
            "ValidationException",
            "Value '[]' at 'configRuleNames' failed to satisfy constraint: \
             Member must have length greater than or equal to 1",
        ),
        (
            Call::new("DescribeConfigRules", json!({ "ConfigRuleNames": ["   "] })),
            "ValidationException",
            "Value '   ' at 'configRuleNames.1.member' failed to satisfy constraint: Member must satisfy regular \
             expression pattern: .*\\S.*",
        ),
        (
            Call::new("DescribeConfigRules", json!({ "Filters": { "Mode": "DETECTIVE" } })),
            "ValidationException",
            "at 'filters.mode' failed to satisfy constraint: Member is not a member of the input shape",
        ),
        (
            Call::new("DescribeConfigRules", json!({ "ConfigRuleNames": SSH_RULE })),
            "SerializationException",
            "Expected a list at 'configRuleNames'",
        ),
        (
            Call::new("GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": SSH_RULE, "Limit": "5" })),
            "SerializationException",
            "Expected an integer",
        ),
        (
            Call::new("DescribeConfigRules", json!({})).raw_body("{\"ConfigRuleNames\": ["),
            "SerializationException",
            "Malformed JSON",
        ),
        (Call::new("DescribeConfigRules", json!({})).raw_body("[]"), "SerializationException", "not expected"),
    ];
    for (call, want, message_part) in cases {
        let (status, code, message) = fails(call, &fake).await;
        assert_eq!((status, code.as_str()), (400, want), "{message}");
        assert!(message.contains(message_part), "{want}: {message}");
    }
    let serialization = fake.log().iter().rev().find_map(|l| l.response["__type"].as_str().map(str::to_owned));
    assert_eq!(serialization.as_deref(), Some("com.amazon.coral.service#SerializationException"));
    ok_with(Call::new("DescribeConfigRules", json!({})).raw_body(""), &fake).await;
    ok_with(Call::new("DescribeConfigRules", json!({ "ConfigRuleNames": null })), &fake).await;
    assert_only_expected(&fake);
}

#[tokio::test]
async fn a_deleted_rule_is_unknown_everywhere() {
    let fake = seeded().await;
    fake.delete_rule(SSH_RULE);
    for (op, body) in [
        ("DescribeConfigRules", json!({ "ConfigRuleNames": [SSH_RULE] })),
        ("GetComplianceDetailsByConfigRule", json!({ "ConfigRuleName": SSH_RULE })),
        ("StartConfigRulesEvaluation", json!({ "ConfigRuleNames": [SSH_RULE] })),
        ("DescribeComplianceByConfigRule", json!({ "ConfigRuleNames": [SSH_RULE] })),
    ] {
        let (_, code, _) = fails(Call::new(op, body), &fake).await;
        assert_eq!(code, "NoSuchConfigRuleException", "{op}");
    }
    let sg1 = ok(&fake, "GetComplianceDetailsByResource", json!({ "ResourceType": SG, "ResourceId": "sg-1" })).await;
    assert_eq!(
        names(&sg1["EvaluationResults"], "/EvaluationResultIdentifier/EvaluationResultQualifier/ConfigRuleName"),
        ["restricted-common-ports"]
    );
    assert_only_expected(&fake);
}

#[tokio::test]
async fn answers_wait_for_the_configured_delay() {
    let fake = seeded().await;
    fake.set_delay(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    ok(&fake, "DescribeConfigRules", json!({})).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}
