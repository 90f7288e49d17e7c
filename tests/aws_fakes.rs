//! The AWS stand-ins the AWS integration is tested against, driven by the real SDK clients:
//! moto's server (`tests/support/moto.rs`) for S3, STS and AWS Config's rules and S3 resource items;
//! the fake AWS Config fronting moto (`FakeAwsConfig::forward_to`), so one Config client with one
//! endpoint reaches both; and the fake CloudTrail (`tests/support/cloudtrail.rs`), checked against
//! botocore's model for `cloudtrail` 2013-11-01.
//!
//! The tests against moto also pin what moto 5.2.5 answers, so that the production code is written
//! against observed behaviour (and a moto upgrade that changes it fails here first). Without
//! `moto_server` they skip with a note, unless `CI` is set (then they fail).

mod support;

use aws_sdk_cloudtrail::types::{EventCategory, LookupAttribute, LookupAttributeKey};
use aws_sdk_config::config::{BehaviorVersion, Credentials, ProvideCredentials, Region};
use aws_sdk_config::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_config::types::ResourceKey;
use aws_sdk_config::types::ResourceType;
use serde_json::{Value, json};
use std::time::Duration;
use support::aws_config::{ACCESS_KEY_ID, FakeAwsConfig, SECRET_ACCESS_KEY};
use support::botocore::Model;
use support::cloudtrail::{FakeCloudTrail, TrailEvent};
use support::moto::Moto;

const BUCKET: &str = "AWS::S3::Bucket";
const REGION: &str = "us-east-1";

// ---------------------------------------------------------------------------------------------
// Clients, built as production code builds them (one endpoint, static credentials)

fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "aws_fakes")
}

/// Retries as the SDK's standard mode (three attempts), with a short backoff for the tests.
fn config_client(url: &str) -> aws_sdk_config::Client {
    let retry = aws_sdk_config::config::retry::RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(10));
    let conf = aws_sdk_config::Config::builder()
        .endpoint_url(url)
        .region(Region::new(REGION))
        .credentials_provider(credentials())
        .behavior_version(BehaviorVersion::latest())
        .retry_config(retry)
        .build();
    aws_sdk_config::Client::from_conf(conf)
}

/// Retries as the SDK's standard mode (three attempts), with a short backoff for the tests.
fn cloudtrail_client(url: &str) -> aws_sdk_cloudtrail::Client {
    let retry = aws_sdk_cloudtrail::config::retry::RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(10));
    let conf = aws_sdk_cloudtrail::Config::builder()
        .endpoint_url(url)
        .region(aws_sdk_cloudtrail::config::Region::new(REGION))
        .credentials_provider(credentials())
        .behavior_version(aws_sdk_cloudtrail::config::BehaviorVersion::latest())
        .retry_config(retry)
        .build();
    aws_sdk_cloudtrail::Client::from_conf(conf)
}

fn s3_client(url: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .endpoint_url(url)
        .region(aws_sdk_s3::config::Region::new(REGION))
        .credentials_provider(credentials())
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// An SDK error's code, as `ProvideErrorMetadata` reads it (`None` when the answer carried none).
fn code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<String> {
    match e {
        SdkError::ServiceError(s) => s.err().code().map(str::to_owned),
        _ => None,
    }
}

/// The whole chain of an error's messages (the SDK's `Display` shows only the top one).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

// ---------------------------------------------------------------------------------------------
// moto: AWS Config rules

/// moto 5.2.5's DescribeConfigRules: the rules sorted by name, each as put, `InputParameters` a
/// JSON string kept byte for byte (absent, not `"{}"`, for a rule without parameters), a random
/// `config-rule-xxxxxx` id, `ConfigRuleState: ACTIVE`, no `EvaluationModes`; on the wire also
/// members botocore's model does not have (`AccountId`, `InputParametersDict`, `LastUpdatedTime`,
/// `Tags`), which clients ignore. moto refuses parameters the managed rule does not have.
#[tokio::test]
async fn moto_describes_a_seeded_config_rule() {
    let Some(moto) = Moto::start().await else { return };
    let params = json!({ "blockedPort1": "20", "blockedPort2": "3389" });
    moto.put_config_rule(
        "restricted-common-ports",
        "RESTRICTED_INCOMING_TRAFFIC",
        &params,
        &["AWS::EC2::SecurityGroup"],
    )
    .await;
    moto.put_config_rule("s3-versioning", "S3_BUCKET_VERSIONING_ENABLED", &Value::Null, &[BUCKET]).await;
    let client = config_client(&moto.url());

    let answer = client.describe_config_rules().config_rule_names("restricted-common-ports").send().await.unwrap();
    let rules = answer.config_rules();
    assert_eq!(rules.len(), 1);
    let rule = &rules[0];
    assert_eq!(rule.config_rule_name(), Some("restricted-common-ports"));
    let source = rule.source().expect("a source");
    assert_eq!(source.owner().as_str(), "AWS");
    assert_eq!(source.source_identifier(), Some("RESTRICTED_INCOMING_TRAFFIC"));
    assert_eq!(rule.input_parameters(), Some(params.to_string().as_str()), "the string as sent");
    let scope = rule.scope().expect("a scope");
    assert_eq!(scope.compliance_resource_types(), ["AWS::EC2::SecurityGroup"]);
    let arn = rule.config_rule_arn().expect("an ARN");
    let id = rule.config_rule_id().expect("an id");
    assert!(id.starts_with("config-rule-") && id.len() == "config-rule-".len() + 6, "{id}");
    assert_eq!(arn, format!("arn:aws:config:us-east-1:123456789012:config-rule/{id}"));
    assert_eq!(rule.config_rule_state().map(|s| s.as_str()), Some("ACTIVE"));
    assert!(rule.evaluation_modes().is_empty(), "moto sends no EvaluationModes");

    let all = client.describe_config_rules().send().await.unwrap();
    let names: Vec<_> = all.config_rules().iter().filter_map(|r| r.config_rule_name()).collect();
    assert_eq!(names, ["restricted-common-ports", "s3-versioning"]);
    assert_eq!(all.config_rules()[1].input_parameters(), None, "no parameters: moto sends no InputParameters");

    let missing = client.describe_config_rules().config_rule_names("gone").send().await.unwrap_err();
    assert!(missing.as_service_error().is_some_and(|e| e.is_no_such_config_rule_exception()), "{missing:?}");

    let (status, raw) = moto.config_call("DescribeConfigRules", &json!({ "ConfigRuleNames": ["s3-versioning"] })).await;
    assert_eq!(status, 200);
    let extra: Vec<&str> = ["AccountId", "InputParametersDict", "LastUpdatedTime", "Tags", "EvaluationModes"]
        .into_iter()
        .filter(|k| raw["ConfigRules"][0].get(*k).is_some())
        .collect();
    assert_eq!(extra, ["AccountId", "InputParametersDict", "LastUpdatedTime", "Tags"]);

    let (status, refused) = moto
        .config_call(
            "PutConfigRule",
            &json!({ "ConfigRule": { "ConfigRuleName": "x", "InputParameters": "{\"a\":\"1\"}",
                "Source": { "Owner": "AWS", "SourceIdentifier": "INCOMING_SSH_DISABLED" } } }),
        )
        .await;
    assert_eq!((status, refused["__type"].as_str()), (400, Some("InvalidParameterValueException")), "{refused}");
}

// ---------------------------------------------------------------------------------------------
// moto: AWS Config resource items of S3 buckets

/// A bucket with tags, as moto reads it live from its S3 backend.
async fn tagged_bucket(moto: &Moto) {
    moto.create_bucket("my-public-bucket", &[("env", "prod"), ("owner", "team-a")]).await;
}

/// moto 5.2.5 answers a bucket's item (no recorder needed), but writes its
/// `configurationItemCaptureTime` and `resourceCreationTime` as Python's `str(datetime)`
/// (`"2026-11-23 09:16:58.867092+00:00"`), not the epoch seconds of the `json` protocol: the Rust
/// SDK (which would take an RFC 3339 string) fails on the space and cannot read the answer at all.
/// Everything else is there: `arn`, `resourceName`, `tags` as a map, `configuration` as a JSON
/// string, `supplementaryConfiguration` as a map of JSON strings (`AccessControlList` even encoded
/// twice).
#[tokio::test]
async fn moto_resource_items_have_string_timestamps_the_sdk_cannot_read() {
    let Some(moto) = Moto::start().await else { return };
    tagged_bucket(&moto).await;
    let client = config_client(&moto.url());
    let history = client
        .get_resource_config_history()
        .resource_type(ResourceType::from(BUCKET))
        .resource_id("my-public-bucket")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(history, SdkError::ResponseError(_)), "a response the SDK cannot read: {history:?}");
    assert!(chain(&history).contains("RFC-3339 only allows `T` as a separator"), "{}", chain(&history));
    let batch = client
        .batch_get_resource_config()
        .resource_keys(
            ResourceKey::builder()
                .resource_type(ResourceType::from(BUCKET))
                .resource_id("my-public-bucket")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(matches!(batch, SdkError::ResponseError(_)), "{batch:?}");

    let (status, raw) = moto
        .config_call("GetResourceConfigHistory", &json!({ "resourceType": BUCKET, "resourceId": "my-public-bucket" }))
        .await;
    assert_eq!(status, 200);
    let items = raw["configurationItems"].as_array().expect("items");
    assert_eq!(items.len(), 1, "moto keeps no history: one synthesized current item");
    let item = &items[0];
    let captured = item["configurationItemCaptureTime"].as_str().expect("a string, not a number");
    assert!(support::aws_config::parse_datetime(captured).is_some() && captured.as_bytes()[10] == b' ', "{captured}");
    assert!(item["resourceCreationTime"].is_string());
    assert_eq!(item["arn"], "arn:aws:s3:::my-public-bucket");
    assert_eq!(
        (item["resourceId"].as_str(), item["resourceName"].as_str()),
        (Some("my-public-bucket"), Some("my-public-bucket"))
    );
    assert_eq!(item["tags"], json!({ "env": "prod", "owner": "team-a" }));
    assert_eq!(
        (item["configurationItemStatus"].as_str(), item["awsRegion"].as_str()),
        (Some("ResourceDiscovered"), Some(REGION))
    );
    assert!(item["configurationStateId"].is_string(), "{}", item["configurationStateId"]);
    let configuration: Value = serde_json::from_str(item["configuration"].as_str().expect("a JSON string")).unwrap();
    assert_eq!(configuration["name"], "my-public-bucket");
    let supplementary = item["supplementaryConfiguration"].as_object().expect("a map");
    assert!(supplementary.values().all(Value::is_string), "every value a string");
    let acl: Value = serde_json::from_str(supplementary["AccessControlList"].as_str().unwrap()).unwrap();
    let acl: Value = serde_json::from_str(acl.as_str().expect("a JSON string inside the JSON string")).unwrap();
    assert_eq!(acl["grantList"][0]["permission"], "FullControl");
    let tagging: Value = serde_json::from_str(supplementary["BucketTaggingConfiguration"].as_str().unwrap()).unwrap();
    assert_eq!(tagging["tagSets"][0]["tags"], json!({ "env": "prod", "owner": "team-a" }));
}

/// Through the fake's repair ([`FakeAwsConfig::repair_moto_timestamps`]) the SDK reads moto's
/// items: GetResourceConfigHistory and BatchGetResourceConfig give the bucket's ARN, name and tags;
/// an unknown bucket is `ResourceNotDiscoveredException` for the history and silently left out
/// (not even in `unprocessedResourceKeys`) by the batch.
#[tokio::test]
async fn repaired_moto_resource_items_read_through_the_sdk() {
    let Some(moto) = Moto::start().await else { return };
    tagged_bucket(&moto).await;
    let fake = FakeAwsConfig::start().await;
    fake.forward_to(&moto.url());
    fake.repair_moto_timestamps();
    let client = config_client(&fake.url());
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();

    let history = client
        .get_resource_config_history()
        .resource_type(ResourceType::from(BUCKET))
        .resource_id("my-public-bucket")
        .limit(1)
        .send()
        .await
        .unwrap();
    let item = &history.configuration_items()[0];
    assert_eq!(item.arn(), Some("arn:aws:s3:::my-public-bucket"));
    assert_eq!(item.resource_name(), Some("my-public-bucket"));
    assert_eq!(item.resource_id(), Some("my-public-bucket"));
    let tags = item.tags().expect("tags");
    assert_eq!(
        (tags.get("env").map(String::as_str), tags.get("owner").map(String::as_str)),
        (Some("prod"), Some("team-a"))
    );
    let captured = item.configuration_item_capture_time().expect("a capture time").as_secs_f64();
    assert!((captured - started).abs() < 120.0, "{captured} near {started}");
    let configuration: Value = serde_json::from_str(item.configuration().expect("configuration")).unwrap();
    assert_eq!(configuration["name"], "my-public-bucket");
    assert!(item.supplementary_configuration().expect("supplementary").contains_key("BucketPolicy"));

    let key =
        |id: &str| ResourceKey::builder().resource_type(ResourceType::from(BUCKET)).resource_id(id).build().unwrap();
    let batch = client
        .batch_get_resource_config()
        .resource_keys(key("my-public-bucket"))
        .resource_keys(key("nope"))
        .send()
        .await
        .unwrap();
    let items = batch.base_configuration_items();
    assert_eq!(items.iter().map(|i| i.arn()).collect::<Vec<_>>(), [Some("arn:aws:s3:::my-public-bucket")]);
    assert!(items[0].configuration().is_some_and(|c| c.contains("my-public-bucket")));
    assert!(batch.unprocessed_resource_keys().is_empty(), "the unknown bucket is dropped silently");

    let missing = client
        .get_resource_config_history()
        .resource_type(ResourceType::from(BUCKET))
        .resource_id("nope")
        .send()
        .await
        .unwrap_err();
    assert!(missing.as_service_error().is_some_and(|e| e.is_resource_not_discovered_exception()), "{missing:?}");
    assert_eq!(fake.unexpected().len(), 0);
    assert!(fake.log().iter().all(|l| l.forwarded));
}

// ---------------------------------------------------------------------------------------------
// The fake AWS Config in front of moto

/// One Config client, one endpoint: rules and resource items come from moto, compliance and
/// evaluations from the fake. Forwarded exchanges are logged as such, are not unexpected, and
/// can be faulted (the SDK retries a throttled forward).
#[tokio::test]
async fn one_config_client_reaches_moto_and_the_fake() {
    let Some(moto) = Moto::start().await else { return };
    tagged_bucket(&moto).await;
    moto.start_configuration_recorder("config-bucket").await;
    let params = json!({ "isMfaDeleteEnabled": "false" });
    moto.put_config_rule("s3-versioning", "S3_BUCKET_VERSIONING_ENABLED", &params, &[BUCKET]).await;
    let fake = FakeAwsConfig::start().await;
    let fake_rule = fake.add_rule("s3-versioning", "S3_BUCKET_VERSIONING_ENABLED", &params, &[BUCKET]);
    fake.set_compliance("s3-versioning", BUCKET, "my-public-bucket", "NON_COMPLIANT");
    let client = config_client(&fake.url());

    // Not forwarding yet: the fake serves its own rules and knows no resource items.
    let own = client.describe_config_rules().send().await.unwrap();
    assert_eq!(own.config_rules()[0].config_rule_id(), Some(fake_rule.id.as_str()));
    let not_served = client
        .get_resource_config_history()
        .resource_type(ResourceType::from(BUCKET))
        .resource_id("my-public-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&not_served).as_deref(), Some("UnknownOperationException"));
    assert_eq!(fake.unexpected().len(), 1);

    fake.forward_to(&moto.url());
    fake.repair_moto_timestamps();
    let rules = client.describe_config_rules().send().await.unwrap();
    let moto_id = rules.config_rules()[0].config_rule_id().expect("an id").to_owned();
    assert_ne!(moto_id, fake_rule.id, "moto's rule, not the fake's");
    fake.fail_next("GetResourceConfigHistory", 1, 400, "ThrottlingException");
    let history = client
        .get_resource_config_history()
        .resource_type(ResourceType::from(BUCKET))
        .resource_id("my-public-bucket")
        .send()
        .await
        .unwrap();
    assert_eq!(history.configuration_items()[0].arn(), Some("arn:aws:s3:::my-public-bucket"));
    let details =
        client.get_compliance_details_by_config_rule().config_rule_name("s3-versioning").send().await.unwrap();
    let qualifier = details.evaluation_results()[0]
        .evaluation_result_identifier()
        .and_then(|i| i.evaluation_result_qualifier())
        .expect("a qualifier");
    assert_eq!(qualifier.resource_id(), Some("my-public-bucket"));
    client.start_config_rules_evaluation().config_rule_names("s3-versioning").send().await.unwrap();
    assert_eq!(fake.evaluations_started(), vec![vec!["s3-versioning".to_owned()]]);

    let log: Vec<(String, bool, bool, u16)> =
        fake.log().iter().skip(2).map(|l| (l.target.clone(), l.forwarded, l.injected, l.status)).collect();
    let target = |op: &str| format!("StarlingDoveService.{op}");
    assert_eq!(
        log,
        [
            (target("DescribeConfigRules"), true, false, 200),
            (target("GetResourceConfigHistory"), false, true, 400),
            (target("GetResourceConfigHistory"), true, false, 200),
            (target("GetComplianceDetailsByConfigRule"), false, false, 200),
            (target("StartConfigRulesEvaluation"), false, false, 200),
        ]
    );
    let forwarded = fake.log().into_iter().find(|l| l.forwarded).unwrap();
    assert_eq!(forwarded.operation, Some("DescribeConfigRules"));
    assert_eq!(forwarded.access_key.as_deref(), Some(ACCESS_KEY_ID), "the SDK's Authorization went through");
    assert_eq!(forwarded.response["ConfigRules"][0]["ConfigRuleId"], moto_id.as_str());
    assert_eq!(fake.unexpected().len(), 1, "only the request made before forwarding");
}

/// Errors come back from the target as it sent them (moto's `NoSuchConfigRuleException`); an
/// unreachable target answers 502 `InternalFailure`, which the SDK retries.
#[tokio::test]
async fn forwarded_errors_pass_through_and_a_dead_target_answers_502() {
    let fake = FakeAwsConfig::start().await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    fake.forward_to(&dead_url);
    let client = config_client(&fake.url());
    let e = client.list_discovered_resources().resource_type(ResourceType::from(BUCKET)).send().await.unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InternalFailure"), "{e:?}");
    let last = fake.log().pop().unwrap();
    assert!(last.forwarded && last.status == 502 && last.operation == Some("ListDiscoveredResources"));
    assert_eq!(last.error.as_deref(), Some("InternalFailure"));
    assert_eq!(fake.log().len(), 3, "a 502 is retried: three attempts");
    assert!(fake.unexpected().is_empty());

    let Some(moto) = Moto::start().await else { return };
    fake.forward_to(&moto.url());
    // A moto bug: with no rule at all, an unknown name answers an empty list, not an error.
    let none = client.describe_config_rules().config_rule_names("gone").send().await.unwrap();
    assert!(none.config_rules().is_empty());
    moto.put_config_rule("s3-versioning", "S3_BUCKET_VERSIONING_ENABLED", &Value::Null, &[BUCKET]).await;
    let e = client.describe_config_rules().config_rule_names("gone").send().await.unwrap_err();
    assert!(e.as_service_error().is_some_and(|e| e.is_no_such_config_rule_exception()), "moto's answer: {e:?}");
    let last = fake.log().pop().unwrap();
    assert_eq!((last.forwarded, last.status, last.error.as_deref()), (true, 400, Some("NoSuchConfigRuleException")));
}

// ---------------------------------------------------------------------------------------------
// moto: S3 (Terraform state) and STS

/// GetObject answers the state and its ETag; `If-None-Match` with that ETag is a 304, which the
/// SDK reports as a service error of no code (`GetObjectError::Unhandled`; the raw response's
/// status is 304, its body empty); a missing key is `NoSuchKey` (404), a missing bucket
/// `NoSuchBucket` (404, not modelled for GetObject: `Unhandled`).
#[tokio::test]
async fn s3_state_objects_etags_and_conditional_gets() {
    let Some(moto) = Moto::start().await else { return };
    moto.create_bucket("tf-state", &[]).await;
    let state = br#"{"version":4,"serial":7,"resources":[]}"#;
    let etag = moto.put_object("tf-state", "env/prod/terraform.tfstate", state).await;
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34, "a quoted MD5: {etag}");
    let s3 = s3_client(&moto.url());

    let got = s3.get_object().bucket("tf-state").key("env/prod/terraform.tfstate").send().await.unwrap();
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), state);

    let not_modified = s3
        .get_object()
        .bucket("tf-state")
        .key("env/prod/terraform.tfstate")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    let SdkError::ServiceError(service) = &not_modified else { panic!("a service error: {not_modified:?}") };
    assert_eq!(service.raw().status().as_u16(), 304);
    let meta = service.err().meta();
    assert_eq!((meta.code(), meta.message()), (None, None), "{:?}", service.err());
    assert!(service.raw().body().bytes().is_some_and(<[u8]>::is_empty));
    let changed =
        s3.get_object().bucket("tf-state").key("env/prod/terraform.tfstate").if_none_match("\"other\"").send();
    assert_eq!(changed.await.unwrap().e_tag(), Some(etag.as_str()), "another ETag: the object");

    let missing = s3.get_object().bucket("tf-state").key("env/dev/terraform.tfstate").send().await.unwrap_err();
    assert!(missing.as_service_error().is_some_and(|e| e.is_no_such_key()), "{missing:?}");
    assert_eq!(missing.raw_response().map(|r| r.status().as_u16()), Some(404));
    let no_bucket = s3.get_object().bucket("nobucket").key("terraform.tfstate").send().await.unwrap_err();
    assert_eq!(code(&no_bucket).as_deref(), Some("NoSuchBucket"));
    assert_eq!(no_bucket.raw_response().map(|r| r.status().as_u16()), Some(404));
}

/// moto's AssumeRole accepts any role ARN (of any account) and hands out an `ASIA…` key of 20
/// characters, a 40-character secret, a session token, and an expiry of now plus the session
/// length. The SDK signs with them, session token included (the fake wants every `x-amz-*`
/// header signed).
#[tokio::test]
async fn sts_assume_role_against_moto() {
    let Some(moto) = Moto::start().await else { return };
    let base = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto.url())
        .region(Region::new(REGION))
        .credentials_provider(credentials())
        .load()
        .await;
    let provider = aws_config::sts::AssumeRoleProvider::builder("arn:aws:iam::210987654321:role/driftfix-readonly")
        .session_name("driftfix")
        .external_id("driftfix-external-id")
        .session_length(Duration::from_secs(900))
        .configure(&base)
        .build()
        .await;
    let creds = provider.provide_credentials().await.unwrap();
    let key = creds.access_key_id().to_owned();
    assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
    assert!(key.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()), "{key}");
    assert_eq!(creds.secret_access_key().len(), 40);
    assert!(creds.session_token().is_some_and(|t| !t.is_empty()));
    let expiry = creds.expiry().expect("an expiry").duration_since(std::time::SystemTime::now()).unwrap();
    assert!(expiry > Duration::from_secs(800) && expiry <= Duration::from_secs(900), "{expiry:?}");

    // The provider asks STS again whenever it is asked (moto then hands out another key), so the
    // client gets the credentials themselves.
    let fake = FakeAwsConfig::start().await;
    fake.accept_key(&key);
    let conf = aws_sdk_config::Config::builder()
        .endpoint_url(fake.url())
        .region(Region::new(REGION))
        .credentials_provider(creds.clone())
        .behavior_version(BehaviorVersion::latest())
        .build();
    aws_sdk_config::Client::from_conf(conf).describe_config_rules().send().await.unwrap();
    assert_eq!(fake.log()[0].access_key.as_deref(), Some(key.as_str()));
    assert!(fake.unexpected().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The fake CloudTrail

const T0: f64 = 1_795_860_000.0;

fn by_resource_name(name: &str) -> LookupAttribute {
    LookupAttribute::builder().attribute_key(LookupAttributeKey::ResourceName).attribute_value(name).build().unwrap()
}

fn attribute(key: LookupAttributeKey, value: &str) -> LookupAttribute {
    LookupAttribute::builder().attribute_key(key).attribute_value(value).build().unwrap()
}

/// Three calls on one bucket by a user, a role session and root, one on another bucket.
fn seeded_trail(trail: &FakeCloudTrail) {
    trail.add_event(
        TrailEvent::new("CreateBucket", "s3.amazonaws.com", T0)
            .resource(BUCKET, "my-public-bucket")
            .request_parameters(json!({ "bucketName": "my-public-bucket" })),
    );
    trail.add_event(
        TrailEvent::new("PutBucketAcl", "s3.amazonaws.com", T0 + 60.0).resource(BUCKET, "my-public-bucket").by_role(
            "deployer",
            "ci-run-42",
            "ASIAEXAMPLEDEPLOYER1",
        ),
    );
    trail
        .add_event(TrailEvent::new("PutBucketTagging", "s3.amazonaws.com", T0 + 30.0).resource(BUCKET, "other-bucket"));
    trail.add_event(
        TrailEvent::new("GetBucketAcl", "s3.amazonaws.com", T0 + 120.0)
            .resource(BUCKET, "my-public-bucket")
            .by_root("AKIAROOTEXAMPLE00001")
            .read_only(),
    );
}

#[tokio::test]
async fn cloudtrail_lookup_by_resource_name_is_newest_first_with_the_record_as_a_string() {
    let trail = FakeCloudTrail::start().await;
    seeded_trail(&trail);
    let client = cloudtrail_client(&trail.url());
    let answer = client.lookup_events().lookup_attributes(by_resource_name("my-public-bucket")).send().await.unwrap();
    let events = answer.events();
    let names: Vec<_> = events.iter().filter_map(|e| e.event_name()).collect();
    assert_eq!(names, ["GetBucketAcl", "PutBucketAcl", "CreateBucket"]);
    assert!(answer.next_token().is_none());

    let acl = &events[1];
    assert_eq!(acl.event_time().map(|t| t.as_secs_f64()), Some(T0 + 60.0));
    assert_eq!(
        (acl.username(), acl.access_key_id(), acl.read_only()),
        (Some("ci-run-42"), Some("ASIAEXAMPLEDEPLOYER1"), Some("false"))
    );
    assert_eq!(acl.event_source(), Some("s3.amazonaws.com"));
    let resource = &acl.resources()[0];
    assert_eq!((resource.resource_type(), resource.resource_name()), (Some(BUCKET), Some("my-public-bucket")));
    let record: Value = serde_json::from_str(acl.cloud_trail_event().expect("a JSON string")).unwrap();
    assert_eq!(record["eventTime"], "2026-11-28T10:01:00Z");
    assert_eq!((record["eventName"].as_str(), record["readOnly"].as_bool()), (Some("PutBucketAcl"), Some(false)));
    assert_eq!((record["awsRegion"].as_str(), record["eventID"].as_str()), (Some(REGION), acl.event_id()));
    let who = &record["userIdentity"];
    assert_eq!(who["type"], "AssumedRole");
    assert_eq!(who["arn"], "arn:aws:sts::123456789012:assumed-role/deployer/ci-run-42");
    assert_eq!(who["sessionContext"]["sessionIssuer"]["arn"], "arn:aws:iam::123456789012:role/deployer");
    assert!(who["principalId"].as_str().is_some_and(|p| p.starts_with("AROA") && p.ends_with(":ci-run-42")));
    let create: Value = serde_json::from_str(events[2].cloud_trail_event().unwrap()).unwrap();
    assert_eq!(create["userIdentity"]["type"], "IAMUser");
    assert_eq!(create["userIdentity"]["userName"], "alice");
    assert_eq!(create["requestParameters"]["bucketName"], "my-public-bucket");
    assert_eq!((events[0].username(), events[0].read_only()), (Some("root"), Some("true")));

    let window = client
        .lookup_events()
        .lookup_attributes(by_resource_name("my-public-bucket"))
        .start_time(aws_sdk_cloudtrail::primitives::DateTime::from_secs(T0 as i64 + 30))
        .end_time(aws_sdk_cloudtrail::primitives::DateTime::from_secs(T0 as i64 + 120))
        .send()
        .await
        .unwrap();
    assert_eq!(
        window.events().iter().filter_map(|e| e.event_name()).collect::<Vec<_>>(),
        ["GetBucketAcl", "PutBucketAcl"]
    );
    for (key, value, want) in [
        (LookupAttributeKey::ReadOnly, "false", vec!["PutBucketAcl", "PutBucketTagging", "CreateBucket"]),
        (LookupAttributeKey::Username, "alice", vec!["PutBucketTagging", "CreateBucket"]),
        (LookupAttributeKey::EventName, "PutBucketTagging", vec!["PutBucketTagging"]),
        (LookupAttributeKey::AccessKeyId, "AKIAROOTEXAMPLE00001", vec!["GetBucketAcl"]),
        (LookupAttributeKey::ResourceType, "AWS::EC2::SecurityGroup", vec![]),
        (
            LookupAttributeKey::EventSource,
            "s3.amazonaws.com",
            vec!["GetBucketAcl", "PutBucketAcl", "PutBucketTagging", "CreateBucket"],
        ),
    ] {
        let found = client.lookup_events().lookup_attributes(attribute(key.clone(), value)).send().await.unwrap();
        assert_eq!(found.events().iter().filter_map(|e| e.event_name()).collect::<Vec<_>>(), want, "{key:?}={value}");
    }
    let target = &trail.log()[0].target;
    assert_eq!(target, "CloudTrail_20131101.LookupEvents", "the SDK names the Smithy service, not botocore's prefix");
    let id = trail.events()[0].event_id.clone();
    let by_id =
        client.lookup_events().lookup_attributes(attribute(LookupAttributeKey::EventId, &id)).send().await.unwrap();
    assert_eq!(by_id.events()[0].event_name(), Some("CreateBucket"));
    assert!(trail.unexpected().is_empty());
}

#[tokio::test]
async fn cloudtrail_pages_with_next_token_bound_to_the_parameters() {
    let trail = FakeCloudTrail::start().await;
    for i in 0..5 {
        trail
            .add_event(TrailEvent::new("PutBucketPolicy", "s3.amazonaws.com", T0 + f64::from(i)).resource(BUCKET, "b"));
    }
    let client = cloudtrail_client(&trail.url());
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = client
            .lookup_events()
            .lookup_attributes(by_resource_name("b"))
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.events().iter().map(|e| e.event_time().unwrap().secs() - T0 as i64));
        match page.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!((pages, seen), (3, vec![4, 3, 2, 1, 0]));

    let first = client.lookup_events().lookup_attributes(by_resource_name("b")).max_results(2).send().await.unwrap();
    let token = first.next_token().expect("more").to_owned();
    let foreign = client.lookup_events().lookup_attributes(by_resource_name("other")).next_token(&token).send().await;
    let e = foreign.unwrap_err();
    assert!(e.as_service_error().is_some_and(|e| e.is_invalid_next_token_exception()), "{e:?}");

    let mut stream =
        client.lookup_events().lookup_attributes(by_resource_name("b")).max_results(2).into_paginator().items().send();
    let mut all = 0;
    while let Some(event) = stream.next().await {
        event.unwrap();
        all += 1;
    }
    assert_eq!(all, 5, "the SDK's paginator follows the tokens");

    trail.set_page_size(1);
    let capped = client.lookup_events().max_results(50).send().await.unwrap();
    assert_eq!(capped.events().len(), 1, "the fake's page size wins");
    assert!(capped.next_token().is_some());
}

#[tokio::test]
async fn cloudtrail_rejects_what_the_service_rejects() {
    let trail = FakeCloudTrail::start().await;
    seeded_trail(&trail);
    let client = cloudtrail_client(&trail.url());
    let two = client
        .lookup_events()
        .lookup_attributes(by_resource_name("my-public-bucket"))
        .lookup_attributes(attribute(LookupAttributeKey::EventName, "PutBucketAcl"))
        .send()
        .await
        .unwrap_err();
    assert!(two.as_service_error().is_some_and(|e| e.is_invalid_lookup_attributes_exception()), "{two:?}");
    let read_only = client.lookup_events().lookup_attributes(attribute(LookupAttributeKey::ReadOnly, "yes")).send();
    assert_eq!(code(&read_only.await.unwrap_err()).as_deref(), Some("InvalidLookupAttributesException"));
    let unknown_key =
        client.lookup_events().lookup_attributes(attribute(LookupAttributeKey::from("Bucket"), "x")).send();
    assert_eq!(code(&unknown_key.await.unwrap_err()).as_deref(), Some("InvalidLookupAttributesException"));
    let many = client.lookup_events().max_results(51).send().await.unwrap_err();
    assert!(many.as_service_error().is_some_and(|e| e.is_invalid_max_results_exception()), "{many:?}");
    let backwards = client
        .lookup_events()
        .start_time(aws_sdk_cloudtrail::primitives::DateTime::from_secs(T0 as i64 + 1))
        .end_time(aws_sdk_cloudtrail::primitives::DateTime::from_secs(T0 as i64))
        .send()
        .await
        .unwrap_err();
    assert!(backwards.as_service_error().is_some_and(|e| e.is_invalid_time_range_exception()), "{backwards:?}");
    let category = client.lookup_events().event_category(EventCategory::from("management")).send().await.unwrap_err();
    assert!(category.as_service_error().is_some_and(|e| e.is_invalid_event_category_exception()), "{category:?}");
    let insights = client.lookup_events().event_category(EventCategory::Insight).send().await.unwrap();
    assert!(insights.events().is_empty(), "no Insights events are kept");
    assert!(trail.unexpected().is_empty());
}

#[tokio::test]
async fn cloudtrail_throttling_is_retried_by_the_sdk() {
    let trail = FakeCloudTrail::start().await;
    seeded_trail(&trail);
    let client = cloudtrail_client(&trail.url());
    trail.fail_next("LookupEvents", 2, 400, "ThrottlingException");
    let answer = client.lookup_events().lookup_attributes(by_resource_name("my-public-bucket")).send().await.unwrap();
    assert_eq!(answer.events().len(), 3);
    assert_eq!(trail.log().iter().map(|l| l.injected).collect::<Vec<_>>(), [true, true, false]);
    trail.fail_next("LookupEvents", 3, 400, "ThrottlingException");
    let e = client.lookup_events().send().await.unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("ThrottlingException"), "three attempts, all throttled");
    assert_eq!(trail.log().len(), 6);

    let stranger = aws_sdk_cloudtrail::Client::from_conf(
        client
            .config()
            .to_builder()
            .credentials_provider(Credentials::new("AKIASTRANGER0000000", "x", None, None, "t"))
            .build(),
    );
    let refused = stranger.lookup_events().send().await.unwrap_err();
    assert_eq!(code(&refused).as_deref(), Some("UnrecognizedClientException"));
    trail.accept_key("AKIASTRANGER0000000");
    stranger.lookup_events().send().await.unwrap();
    assert!(trail.unexpected().is_empty());
}

#[tokio::test]
async fn cloudtrail_unexpected_targets_are_logged() {
    let trail = FakeCloudTrail::start().await;
    let (status, answer) =
        raw_cloudtrail(&trail, "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DescribeTrails", "{}").await;
    assert_eq!(status, 400);
    assert_eq!(answer["__type"], "com.amazon.coral.service#UnknownOperationException");
    let (status, answer) = raw_cloudtrail(
        &trail,
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
        "{\"MaxResults\": \"5\"}",
    )
    .await;
    assert_eq!((status, answer["__type"].as_str()), (400, Some("com.amazon.coral.service#SerializationException")));
    assert_eq!(
        trail.calls(),
        ["?com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DescribeTrails", "LookupEvents"]
    );
    assert_eq!(trail.unexpected().len(), 1);
}

/// A JSON 1.1 request shaped like the SDK's, with a well-formed (not computed) SigV4.
async fn raw_cloudtrail(trail: &FakeCloudTrail, target: &str, body: &str) -> (u16, Value) {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20261123/{REGION}/cloudtrail/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={}",
        "0".repeat(64)
    );
    let response = reqwest::Client::new()
        .post(format!("{}/", trail.url()))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .header("x-amz-date", "20261123T100000Z")
        .header("authorization", authorization)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap())
}

// ---------------------------------------------------------------------------------------------
// The fake CloudTrail against botocore's model

/// botocore's model for CloudTrail (`.ci/run` sets `DRIFTFIX_TEST_BOTOCORE_CLOUDTRAIL_MODEL`).
/// `DRIFTFIX_SKIP_BOTOCORE=1` skips the check; so does a missing variable outside CI (with a note).
fn cloudtrail_model() -> Option<Model> {
    const VAR: &str = "DRIFTFIX_TEST_BOTOCORE_CLOUDTRAIL_MODEL";
    if std::env::var_os("DRIFTFIX_SKIP_BOTOCORE").is_some() {
        return None;
    }
    let Some(path) = std::env::var_os(VAR) else {
        assert!(std::env::var_os("CI").is_none(), "{VAR} is not set: run .ci/run, or DRIFTFIX_SKIP_BOTOCORE=1 to skip");
        eprintln!("note: skipped, {VAR} is not set (.ci/run sets it)");
        return None;
    };
    Some(Model::load(std::path::Path::new(&path)))
}

fn check_static(model: &Model) -> Vec<String> {
    use support::cloudtrail::{OPERATIONS, TARGET_PREFIX};
    let meta = model.metadata();
    let mut problems = Vec::new();
    for (key, want) in [
        ("protocol", "json"),
        ("jsonVersion", "1.1"),
        ("targetPrefix", TARGET_PREFIX),
        ("endpointPrefix", "cloudtrail"),
        ("signatureVersion", "v4"),
    ] {
        if meta[key] != want {
            problems.push(format!("metadata.{key} is {}, the fake has {want}", meta[key]));
        }
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
        for e in declared.iter().filter(|d| !op.errors.contains(&d.as_str())) {
            let never = ["UnsupportedOperationException", "OperationNotPermittedException"];
            if !never.contains(&e.as_str()) {
                problems.push(format!("{}: the model declares {e}, which the fake never answers", op.name));
            }
        }
    }
    // CloudTrail models its throttling error; the fake answers it as a common one.
    if model.shape("ThrottlingException").is_none_or(|s| s["exception"] != true) {
        problems.push("ThrottlingException is not an exception shape of the model".to_owned());
    }
    problems
}

/// Every answer the fake gave fits the model: 200s their input and output shapes, errors a
/// declared or common code with AWS's error body.
fn check_log(model: &Model, trail: &FakeCloudTrail) -> Vec<String> {
    let mut problems = Vec::new();
    let mut answered = false;
    for l in trail.log() {
        let Some(op) = l.operation else { continue };
        let request = l.request.clone().unwrap_or(Value::Null);
        if l.status == 200 {
            answered = true;
            if let Err(e) = model.validate_input(op, &request) {
                problems.push(format!("{op} request {request}: {e:?}"));
            }
            if let Err(e) = model.validate_output(op, &l.response) {
                problems.push(format!("{op} answer {}: {e:?}", l.response));
            }
            continue;
        }
        let error = l.error.clone().unwrap_or_default();
        let declared =
            model.errors(op).contains(&error) || support::aws_config::COMMON_ERRORS.contains(&error.as_str());
        if !declared || l.response["message"].as_str().is_none_or(str::is_empty) {
            problems.push(format!("{op} answered {error}: {}", l.response));
        }
    }
    if !answered {
        problems.push("no successful exchange was checked".to_owned());
    }
    problems
}

/// Where the fake and the model disagree on a body, it is on purpose: the service's documented
/// rules the model cannot express.
fn check_validation_agrees(model: &Model) -> Vec<String> {
    let op = support::cloudtrail::operation("LookupEvents").unwrap();
    let attribute = |k: &str, v: &str| json!({ "AttributeKey": k, "AttributeValue": v });
    let samples: Vec<(Value, bool)> = vec![
        (json!({ "MaxResults": 50, "StartTime": T0, "EndTime": T0 + 1.0 }), true),
        (json!({ "MaxResults": 0 }), true),
        (json!({ "MaxResults": 51 }), true),
        (json!({ "LookupAttributes": [attribute("Bucket", "x")] }), true),
        (json!({ "LookupAttributes": [attribute("EventName", "")] }), true),
        (json!({ "LookupAttributes": [{ "AttributeKey": "EventName" }] }), true),
        (json!({ "EventCategory": "management" }), true),
        (json!({ "StartTime": "2026-11-23T10:00:00Z" }), true),
        (json!({ "Extra": 1 }), true),
        // Only one attribute, and ReadOnly only true or false: documented, not modelled.
        (json!({ "LookupAttributes": [attribute("EventName", "a"), attribute("Username", "b")] }), false),
        (json!({ "LookupAttributes": [attribute("ReadOnly", "yes")] }), false),
    ];
    let mut problems = Vec::new();
    for (body, should_agree) in samples {
        let model_accepts = model.validate_input("LookupEvents", &body).is_ok();
        let fake =
            support::aws_config::validate(op.input, &body).and_then(|()| support::cloudtrail::check_lookup(&body));
        let fake_accepts = fake.is_ok();
        if (fake_accepts == model_accepts) != should_agree {
            problems.push(format!("{body}: the fake accepts: {fake_accepts}, the model: {model_accepts}"));
        }
    }
    problems
}

#[tokio::test]
async fn the_fake_cloudtrail_matches_botocores_model() {
    let Some(model) = cloudtrail_model() else { return };
    assert_eq!(check_static(&model), Vec::<String>::new());
    assert_eq!(check_validation_agrees(&model), Vec::<String>::new());
    let trail = FakeCloudTrail::start().await;
    seeded_trail(&trail);
    let client = cloudtrail_client(&trail.url());
    client.lookup_events().lookup_attributes(by_resource_name("my-public-bucket")).max_results(1).send().await.unwrap();
    client.lookup_events().event_category(EventCategory::Insight).send().await.unwrap();
    let _ = client.lookup_events().max_results(60).send().await;
    let _ = client.lookup_events().next_token("garbage").send().await;
    trail.fail_next("LookupEvents", 1, 400, "AccessDeniedException");
    let _ = client.lookup_events().send().await;
    assert_eq!(check_log(&model, &trail), Vec::<String>::new());
    let codes: Vec<_> = trail.log().iter().filter_map(|l| l.error.clone()).collect();
    assert_eq!(codes, ["InvalidMaxResultsException", "InvalidNextTokenException", "AccessDeniedException"]);
}
