//! The AWS side end to end, with the real SDK clients driftfix builds (`driftfix::aws::Aws`):
//! moto (started on loopback) owns the Config rules, the S3 buckets and their configuration items,
//! the S3 state objects and STS; the fake AWS Config answers the compliance APIs moto lacks and
//! forwards the rest to moto; the fake CloudTrail answers `LookupEvents`.
//!
//! - a bare compliance event naming a custom rule → enriched with the identifier and parameters →
//!   the parameter's value in the fix; the resource's ARN and CloudTrail's actor in the audit and PR;
//! - an exemption tag on the bucket in AWS → `suppressed`;
//! - `sync`: a missed finding recorded and worked; a second sync adds nothing; a fixed resource
//!   resolved and its ticket closed; `serve` running it on its interval;
//! - a merged pull request → re-evaluation → `verified` → the Jira ticket closed; the timeout path;
//! - faults: throttling (the job waits, no attempt spent), refused credentials (the job fails with
//!   the reason, and the finding is kept), a call cut at its timeout, an unknown rule, a resource
//!   Config recorded as deleted (`resource-deleted`), and state read from S3 by ETag.
//!
//! Without `moto_server` (and without `CI`) these tests print a note and pass; `.ci/run` installs it.

mod support;

use driftfix::config::Route;
use driftfix::config::aws::{Aws as AwsSettings, Endpoints};
use driftfix::store::Store;
use driftfix::worker::{Worker, WorkerConfig};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use support::aws_config::{ACCESS_KEY_ID, ACCOUNT_ID, FakeAwsConfig, REGION, SECRET_ACCESS_KEY};
use support::cloudtrail::{FakeCloudTrail, TrailEvent};
use support::moto::Moto;

const BUCKET: &str = "acme-assets";
const RULE: &str = "acme-bucket-logs";

/// The three stand-ins and driftfix's clients pointed at them.
struct Env {
    moto: Moto,
    config: FakeAwsConfig,
    trail: FakeCloudTrail,
}

impl Env {
    async fn start() -> Option<Env> {
        let moto = Moto::start().await?;
        let config = FakeAwsConfig::start().await;
        config.forward_to(&moto.url());
        config.repair_moto_timestamps();
        let trail = FakeCloudTrail::start().await;
        Some(Env { moto, config, trail })
    }

    fn settings(&self) -> AwsSettings {
        AwsSettings {
            enabled: true,
            region: REGION.into(),
            max_attempts: 2,
            verify_delay_minutes: 0,
            verify_poll_seconds: 1,
            verify_timeout_minutes: 0,
            endpoints: Endpoints {
                config: self.config.url(),
                cloudtrail: self.trail.url(),
                s3: self.moto.url(),
                sts: self.moto.url(),
            },
            ..AwsSettings::default()
        }
    }

    async fn clients(&self, settings: AwsSettings) -> Arc<driftfix::aws::Aws> {
        let creds = aws_sdk_config::config::Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "tests");
        Arc::new(driftfix::aws::Aws::load(settings, Some(creds)).await)
    }

    /// The bucket (tagged), the custom-named logging rule (in moto, which owns rules, and in the
    /// fake, which owns its results) and one CloudTrail write on the bucket.
    async fn seed(&self, tags: &[(&str, &str)]) {
        self.moto.create_bucket(BUCKET, tags).await;
        let params = json!({ "targetBucket": "acme-logs" });
        self.moto.put_config_rule(RULE, "S3_BUCKET_LOGGING_ENABLED", &params, &["AWS::S3::Bucket"]).await;
        self.config.add_rule(RULE, "S3_BUCKET_LOGGING_ENABLED", &params, &["AWS::S3::Bucket"]);
        let at = now_s() - 600.0;
        self.trail.add_event(
            TrailEvent::new("PutBucketLogging", "s3.amazonaws.com", at).resource("AWS::S3::Bucket", BUCKET).by_role(
                "Admin",
                "alice",
                "ASIAALICE0000000001",
            ),
        );
        self.trail.add_event(
            TrailEvent::new("GetBucketLogging", "s3.amazonaws.com", at + 60.0)
                .resource("AWS::S3::Bucket", BUCKET)
                .read_only(),
        );
    }

    fn assert_only_expected(&self) {
        assert!(self.config.unexpected().is_empty(), "{:?}", self.config.unexpected());
        assert!(self.trail.unexpected().is_empty(), "{:?}", self.trail.unexpected());
    }
}

fn now_s() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64 / 1000.0
}

fn rfc3339(offset_s: i64) -> String {
    let ms = driftfix::store::now_ms() + offset_s * 1000;
    aws_sdk_config::primitives::DateTime::from_millis(ms)
        .fmt(aws_sdk_config::primitives::DateTimeFormat::DateTime)
        .unwrap()
}

/// A bare EventBridge compliance-change event: a rule name, a resource, a verdict. Nothing else.
fn compliance_event(id: &str, rule: &str, rtype: &str, rid: &str, compliance: &str) -> String {
    let at = rfc3339(-60);
    json!({
        "version": "0", "id": id, "detail-type": "Config Rules Compliance Change", "source": "aws.config",
        "account": ACCOUNT_ID, "time": at, "region": REGION, "resources": [],
        "detail": {
            "resourceId": rid, "awsRegion": REGION, "awsAccountId": ACCOUNT_ID, "configRuleName": rule,
            "recordVersion": "1.0", "messageType": "ComplianceChangeNotification", "resourceType": rtype,
            "newEvaluationResult": {
                "evaluationResultIdentifier": {
                    "evaluationResultQualifier": { "configRuleName": rule, "resourceType": rtype, "resourceId": rid },
                    "orderingTimestamp": at
                },
                "complianceType": compliance, "resultRecordedTime": at, "configRuleInvokedTime": at,
                "annotation": null
            },
            "notificationCreationTime": at
        }
    })
    .to_string()
}

/// A repository with one bucket and no logging: `S3_BUCKET_LOGGING_ENABLED` needs its
/// `targetBucket` parameter (or a policy) to write a fix.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("versions.tf"),
        "terraform {\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \"~> 5.0\"\n    }\n  }\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        format!(
            "# Static assets for the shop.\nresource \"aws_s3_bucket\" \"assets\" {{\n  bucket = \"{BUCKET}\"\n}}\n"
        ),
    )
    .unwrap();
    dir
}

fn route(repo: &Path) -> Route {
    Route {
        name: "infra".into(),
        accounts: vec![ACCOUNT_ID.into()],
        regions: vec![REGION.into()],
        resource_tags: Default::default(),
        repo: repo.to_string_lossy().into_owned(),
        paths: Vec::new(),
        state: Vec::new(),
        role_arn: None,
    }
}

fn worker(store: &Store, routes: Vec<Route>, aws: Option<Arc<driftfix::aws::Aws>>) -> Worker {
    let config = WorkerConfig {
        routes,
        policy: Default::default(),
        lease_ms: 60_000,
        poll_interval: std::time::Duration::from_millis(10),
        dry_run: true,
        templates: Arc::new(driftfix::render::Templates::builtin().unwrap()),
        github: None,
        jira: None,
        repos: Default::default(),
        aws,
    };
    Worker::new(store.clone(), config)
}

/// A SQLite store, the bucket repository, and a dry-run worker routed to it with these AWS settings
/// (acting as `role` when given).
struct Local {
    store: Store,
    w: Worker,
    _db: tempfile::TempDir,
    _repo: tempfile::TempDir,
}

async fn local(env: &Env, settings: AwsSettings, role: Option<String>) -> Local {
    let (store, _db) = support::db::sqlite().await;
    let _repo = repo();
    let mut r = route(_repo.path());
    r.role_arn = role;
    let w = worker(&store, vec![r], Some(env.clients(settings).await));
    Local { store, w, _db, _repo }
}

/// Record the bare NON_COMPLIANT event about the bucket, delivered as `id`: (finding key, job id).
async fn bucket_event(store: &Store, id: &str) -> (String, Option<i64>) {
    support::record(store, id, &compliance_event(id, RULE, "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT")).await
}

async fn drain(w: &Worker) -> usize {
    let mut n = 0;
    while w.run_once().await.unwrap() {
        n += 1;
    }
    n
}

async fn audit(store: &Store, key: &str, action: &str) -> Option<Value> {
    store
        .audit_trail(key)
        .await
        .unwrap()
        .into_iter()
        .find(|(_, _, a, _)| a == action)
        .map(|(_, _, _, d)| serde_json::from_str(&d).unwrap())
}

#[tokio::test]
async fn a_bare_event_is_enriched_with_the_rules_identifier_parameters_arn_and_actor() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[("team", "web")]).await;
    let (store, _db) = support::db::sqlite().await;
    let dir = repo();
    let event = compliance_event("e-1", RULE, "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT");

    // Without AWS, the custom name means nothing to the catalog.
    let (key, _) = support::record(&store, "e-1", &event).await;
    let plain = worker(&store, vec![route(dir.path())], None);
    assert_eq!(drain(&plain).await, 1);
    assert_eq!(store.finding_state(&key).await.unwrap().as_deref(), Some("unsupported"));

    // With AWS: the rule is S3_BUCKET_LOGGING_ENABLED, its targetBucket is acme-logs.
    let aws = env.clients(env.settings()).await;
    let w = worker(&store, vec![route(dir.path())], Some(aws));
    support::record(&store, "e-2", &event.replace("\"e-1\"", "\"e-2\"")).await;
    assert_eq!(drain(&w).await, 1);
    let d = store.finding_detail(&key).await.unwrap().unwrap();
    assert_eq!(d.summary.state, "proposed", "{:?}", d.audit);
    assert_eq!(d.summary.rule.identifier, "S3_BUCKET_LOGGING_ENABLED", "AWS's identifier is recorded");
    let diff = d.diff.expect("diff");
    assert!(diff.contains("acme-logs"), "the parameter decides the target bucket:\n{diff}");
    let p = d.proposal.expect("proposal");
    assert!(
        p.body.contains(&format!("Last changed by `arn:aws:sts::{ACCOUNT_ID}:assumed-role/Admin/alice`")),
        "{}",
        p.body
    );
    assert!(p.body.contains("PutBucketLogging"), "{}", p.body);

    let enriched = audit(&store, &key, "enriched").await.expect("an enriched audit entry");
    assert_eq!(enriched["rule_identifier"], "S3_BUCKET_LOGGING_ENABLED");
    assert_eq!(enriched["parameters"]["targetBucket"], "acme-logs");
    assert_eq!(enriched["arn"], format!("arn:aws:s3:::{BUCKET}"));
    assert_eq!(enriched["changed_by"]["action"], "PutBucketLogging", "the read-only call is not the change");

    // The rule was described once for two lookups: the cache answers the second job.
    let again = event.replace("\"e-1\"", "\"e-3\"");
    support::record(&store, "e-3", &again).await;
    assert_eq!(drain(&w).await, 1);
    let describes = env.config.log().iter().filter(|l| l.target.ends_with(".DescribeConfigRules")).count();
    assert_eq!(describes, 1, "DescribeConfigRules is cached per rule");
    env.assert_only_expected();
}

#[tokio::test]
async fn an_exemption_tag_on_the_cloud_resource_suppresses_the_finding() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[("SecurityExemption", "True")]).await;
    let Local { store, w, _db, _repo } = local(&env, env.settings(), None).await;
    let (key, _) = bucket_event(&store, "e-1").await;
    assert_eq!(drain(&w).await, 1);
    let d = store.finding_detail(&key).await.unwrap().unwrap();
    assert_eq!(d.summary.state, "suppressed");
    assert!(d.proposal.is_none(), "no pull request for an exempt resource");
    env.assert_only_expected();
}

#[tokio::test]
async fn an_unknown_rule_is_noted_and_the_finding_goes_on_by_its_name() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    let Local { store, w, _db, _repo } = local(&env, env.settings(), None).await;
    // A managed rule's own name, deleted from the account since: the catalog still knows the name.
    let event = compliance_event("e-1", "s3-bucket-logging-enabled", "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT");
    let (key, _) = support::record(&store, "e-1", &event).await;
    assert_eq!(drain(&w).await, 1);
    let notes = audit(&store, &key, "enriched").await.unwrap()["notes"].to_string();
    assert!(notes.contains("has no rule named `s3-bucket-logging-enabled`"), "{notes}");
    // No parameters and no policy: the engine asks a human for the log bucket.
    assert_eq!(store.finding_state(&key).await.unwrap().as_deref(), Some("advice"));
    env.assert_only_expected();
}

#[tokio::test]
async fn throttling_parks_the_job_without_spending_an_attempt_and_refused_credentials_fail_it_clearly() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    let Local { store, w, _db, _repo } = local(&env, env.settings(), None).await;

    // Throttled on every attempt the SDK makes (max_attempts = 2): the job waits for a minute.
    env.config.fail_next("DescribeConfigRules", 2, 400, "ThrottlingException");
    let (key, job) = bucket_event(&store, "e-1").await;
    assert!(w.run_once().await.unwrap());
    let (state, attempts, error, _) = store.job_status(job.unwrap()).await.unwrap().unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 0), "{error:?}");
    assert!(error.unwrap_or_default().contains("ThrottlingException"));
    assert_eq!(store.finding_state(&key).await.unwrap().as_deref(), Some("rate-limited"));
    assert!(!w.run_once().await.unwrap(), "not due yet");

    // Credentials that expired (the SDK does not retry that): the attempt fails with the reason;
    // the finding and its event stay.
    env.trail.fail_next("LookupEvents", 1, 400, "ExpiredTokenException");
    let (key2, job2) = support::record(
        &store,
        "e-2",
        &compliance_event("e-2", RULE, "AWS::S3::Bucket", "acme-other", "NON_COMPLIANT"),
    )
    .await;
    assert!(w.run_once().await.unwrap());
    let (state, attempts, error, _) = store.job_status(job2.unwrap()).await.unwrap().unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 1));
    let error = error.unwrap_or_default();
    assert!(error.contains("credentials were refused or have expired (ExpiredTokenException)"), "{error}");
    assert!(!error.contains(SECRET_ACCESS_KEY), "no secret in errors");
    assert!(store.finding_detail(&key2).await.unwrap().is_some(), "nothing accepted is lost");
}

#[tokio::test]
async fn sync_records_missed_findings_once_and_resolves_fixed_ones() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    env.config.set_compliance(RULE, "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT");
    let (store, _db) = support::db::sqlite().await;
    let dir = repo();
    let settings = env.settings();
    let aws = env.clients(settings.clone()).await;
    let config = driftfix::config::Config { aws: settings, routes: vec![route(dir.path())], ..Default::default() };
    let opts = driftfix::sync::SyncOptions::default();

    let first = driftfix::sync::sync(&store, &aws, &config, &opts).await.expect("sync");
    assert_eq!(first.errors, Vec::<String>::new());
    assert_eq!((first.rules, first.non_compliant, first.enqueued, first.known), (1, 1, 1, 0), "{first:?}");
    let w = worker(&store, config.routes.clone(), Some(aws.clone()));
    assert_eq!(drain(&w).await, 1);
    let listed = store.list_findings(&Default::default(), &Default::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
    let key = listed[0].key.clone();
    assert_eq!(listed[0].state, "proposed", "a synced finding is worked like a delivered one");

    // Config evaluated again (a new ordering timestamp): still the same open finding, no new work.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    env.config.set_compliance(RULE, "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT");
    let second = driftfix::sync::sync(&store, &aws, &config, &opts).await.expect("sync");
    assert_eq!((second.enqueued, second.known), (0, 1), "{second:?}");
    assert_eq!(drain(&w).await, 0, "nothing new to work");

    // Fixed outside driftfix: Config no longer lists it; sync asks and resolves it.
    env.config.set_compliance(RULE, "AWS::S3::Bucket", BUCKET, "COMPLIANT");
    let third = driftfix::sync::sync(&store, &aws, &config, &opts).await.expect("sync");
    assert_eq!((third.non_compliant, third.resolved), (0, 1), "{third:?}");
    assert_eq!(store.finding_state(&key).await.unwrap().as_deref(), Some("resolved"));
    assert!(audit(&store, &key, "sync.resolved").await.is_some());

    // `--rule` naming a rule that does not exist is an error line, not a crash.
    let only = driftfix::sync::SyncOptions { rules: vec!["nope".into()], route: None };
    let r = driftfix::sync::sync(&store, &aws, &config, &only).await.expect("sync");
    assert_eq!(r.errors, ["rule `nope` does not exist in us-east-1"]);
    let bad = driftfix::sync::SyncOptions { rules: Vec::new(), route: Some("missing".into()) };
    assert!(driftfix::sync::sync(&store, &aws, &config, &bad).await.is_err());
    env.assert_only_expected();
}

#[tokio::test]
async fn state_in_s3_is_read_with_the_route_and_cached_by_etag() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    env.moto.create_bucket("acme-tf-state", &[]).await;
    let state = std::fs::read_to_string(support::examples().join("state/terraform.tfstate")).unwrap();
    env.moto.put_object("acme-tf-state", "prod/terraform.tfstate", state.as_bytes()).await;
    let aws = env.clients(env.settings()).await;
    let loc = driftfix::aws::S3Location::parse(Path::new("s3://acme-tf-state/prod/terraform.tfstate")).unwrap();
    let (text, read) = aws.read_state(None, REGION, &loc).await.expect("read");
    assert_eq!((text.as_str(), read), (state.as_str(), driftfix::aws::state::Read::Fetched));
    let (again, read) = aws.read_state(None, REGION, &loc).await.expect("read");
    assert_eq!((again.as_str(), read), (state.as_str(), driftfix::aws::state::Read::Unchanged));
    let missing = driftfix::aws::S3Location::parse(Path::new("s3://acme-tf-state/nope.tfstate")).unwrap();
    let e = aws.read_state(None, REGION, &missing).await.expect_err("missing");
    assert!(e.to_string().contains("s3://acme-tf-state/nope.tfstate does not exist"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Verification after merge: GitHub and Jira in the loop

const REPO: &str = "acme/infra";

/// A GitHub-routed worker with Jira and AWS, its finding proposed: (worker, key, PR number, branch).
async fn proposed_on_github(
    env: &Env,
    store: &Store,
    gh: &support::github::FakeGitHub,
    jira: &support::jira::FakeJira,
    settings: AwsSettings,
) -> (Worker, String, u64, String) {
    let dir = repo();
    gh.add_repo(REPO, &support::files_of(dir.path()));
    let mut config = support::github::worker_config(gh, REPO, false, Some(jira.config()), Default::default());
    config.aws = Some(env.clients(settings).await);
    let w = Worker::new(store.clone(), config);
    let (key, _) =
        support::record(store, "e-1", &compliance_event("e-1", RULE, "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT")).await;
    drain(&w).await;
    assert_eq!(store.finding_state(&key).await.unwrap().as_deref(), Some("proposed"));
    assert_eq!(jira.issues().len(), 1, "one ticket");
    let pr = gh.pulls(REPO)[0].clone();
    (w, key, pr.number, pr.head)
}

async fn merge(store: &Store, gh: &support::github::FakeGitHub, number: u64, branch: &str) {
    gh.close_pull(REPO, number, true);
    let event = support::github::pull_event(REPO, "closed", true, number, branch, "erin");
    assert!(support::github::deliver(store, "pull_request", "merge-1", event).await);
}

fn comment_texts(jira: &support::jira::FakeJira, ticket: &str) -> String {
    jira.comments(ticket).iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
}

/// A finding proposed on GitHub with a Jira ticket, verification on with an hour's timeout, and
/// the next evaluation of its rule finding the bucket compliant (the apply happened).
struct Applied {
    env: Env,
    store: Store,
    _db: tempfile::TempDir,
    gh: support::github::FakeGitHub,
    jira: support::jira::FakeJira,
    w: Worker,
    key: String,
    number: u64,
    branch: String,
}

impl Applied {
    async fn start() -> Option<Applied> {
        let env = Env::start().await?;
        env.seed(&[]).await;
        let (store, _db) = support::db::sqlite().await;
        let gh = support::github::FakeGitHub::start().await;
        let jira = support::jira::FakeJira::start(driftfix::jira::Flavor::Cloud).await;
        let settings = AwsSettings { verify_timeout_minutes: 60, ..env.settings() };
        let (w, key, number, branch) = proposed_on_github(&env, &store, &gh, &jira, settings).await;
        env.config.set_compliance_on_next_evaluation(RULE, "AWS::S3::Bucket", BUCKET, "COMPLIANT");
        Some(Applied { env, store, _db, gh, jira, w, key, number, branch })
    }

    async fn merge(&self) {
        merge(&self.store, &self.gh, self.number, &self.branch).await;
    }
}

#[tokio::test]
async fn a_merged_fix_is_re_evaluated_verified_and_its_ticket_closed() {
    let Some(applied) = Applied::start().await else { return };
    let Applied { env, store, gh, jira, w, key, .. } = &applied;
    let ticket = jira.issues()[0].key.clone();
    applied.merge().await;
    drain(w).await;
    assert_eq!(env.config.evaluations_started(), [vec![RULE.to_owned()]], "StartConfigRulesEvaluation, once");
    assert_eq!(store.finding_state(key).await.unwrap().as_deref(), Some("verifying"));
    assert_ne!(jira.status_of(&ticket), Some("Done"), "merging alone does not close the ticket");
    assert!(comment_texts(jira, &ticket).contains("re-evaluates the rule"), "{}", comment_texts(jira, &ticket));

    // The poll is due a second later.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    drain(w).await;
    assert_eq!(store.finding_state(key).await.unwrap().as_deref(), Some("verified"));
    assert_eq!(jira.status_of(&ticket), Some("Done"), "the verified finding's ticket is closed");
    assert!(comment_texts(jira, &ticket).contains("Verified: AWS Config now evaluates the resource COMPLIANT"));
    assert!(audit(store, key, "verify.compliant").await.is_some());
    assert_eq!(env.config.evaluations_started().len(), 1, "no second evaluation");

    // Later the drift comes back: the finding is worked again and its ticket reopened.
    env.config.set_compliance(RULE, "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT");
    let again = compliance_event("e-9", RULE, "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT");
    support::record(store, "e-9", &again).await;
    drain(w).await;
    assert_ne!(jira.status_of(&ticket), Some("Done"), "reopened");
    assert!(comment_texts(jira, &ticket).contains("NON_COMPLIANT again"));
    assert_eq!(jira.issues().len(), 1, "still one ticket");
    assert!(gh.unexpected().is_empty(), "{:?}", gh.unexpected());
    env.assert_only_expected();
}

/// The state a merged finding reaches after one poll when AWS stamps its COMPLIANT result
/// `offset` seconds from the moment of the merge (by our clock); `None` without moto.
async fn state_after_a_result_recorded(offset: f64) -> Option<Option<String>> {
    let applied = Applied::start().await?;
    let merged = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    applied.env.config.set_now(merged + offset);
    applied.merge().await;
    drain(&applied.w).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    drain(&applied.w).await;
    Some(applied.store.finding_state(&applied.key).await.unwrap())
}

#[tokio::test]
async fn a_result_stamped_a_moment_before_the_merge_by_aws_clock_counts_an_older_one_does_not() {
    // Clocks differ and AWS sends epoch seconds as floating point: a result from the very moment
    // of the merge may read a little earlier. Half a second is that; half a minute is an old result.
    let Some(state) = state_after_a_result_recorded(-0.5).await else { return };
    assert_eq!(state.as_deref(), Some("verified"));
    let state = state_after_a_result_recorded(-30.0).await.expect("the environment started once");
    assert_eq!(state.as_deref(), Some("verifying"), "a result from before the merge proves nothing");
}

#[tokio::test]
async fn a_merged_fix_still_non_compliant_after_the_timeout_asks_once_whether_it_was_applied() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    env.config.set_compliance(RULE, "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT");
    let (store, _db) = support::db::sqlite().await;
    let gh = support::github::FakeGitHub::start().await;
    let jira = support::jira::FakeJira::start(driftfix::jira::Flavor::Cloud).await;
    let (w, key, number, branch) = proposed_on_github(&env, &store, &gh, &jira, env.settings()).await;
    let ticket = jira.issues()[0].key.clone();
    merge(&store, &gh, number, &branch).await;
    drain(&w).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    drain(&w).await;
    assert_eq!(store.finding_state(&key).await.unwrap().as_deref(), Some("unverified"));
    let texts = comment_texts(&jira, &ticket);
    assert_eq!(texts.matches("Was the merged change applied").count(), 1, "{texts}");
    assert_ne!(jira.status_of(&ticket), Some("Done"), "the ticket stays open");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(drain(&w).await, 0, "verification is over");
    env.assert_only_expected();
}

#[tokio::test]
async fn a_routes_role_is_assumed_with_sts_for_its_findings() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    let settings = AwsSettings { cloudtrail: false, ..env.settings() };
    let role = format!("arn:aws:iam::{ACCOUNT_ID}:role/driftfix");
    let Local { store, w, _db, _repo } = local(&env, settings, Some(role)).await;
    let (key, _) = bucket_event(&store, "e-1").await;
    assert_eq!(drain(&w).await, 1);
    assert_eq!(store.finding_state(&key).await.unwrap().as_deref(), Some("proposed"));
    let keys: Vec<String> = env.config.log().iter().filter_map(|l| l.access_key.clone()).collect();
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k.starts_with("ASIA") && k != ACCESS_KEY_ID),
        "every Config call used the role's session credentials from STS, not the base key: {keys:?}"
    );
}

// Multi-threaded: the fakes answer the child process while the test waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_command_uses_the_default_credential_chain_and_reports() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    env.config.set_compliance(RULE, "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT");
    let dir = repo();
    let db = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", db.path().join("driftfix.db").display());
    let config = format!(
        "database_url = \"{db_url}\"\n[aws]\nenabled = true\nregion = \"{REGION}\"\ncloudtrail = false\n\
         [aws.endpoints]\nconfig = \"{}\"\n\n[[routes]]\nname = \"infra\"\naccounts = [\"{ACCOUNT_ID}\"]\n\
         regions = [\"{REGION}\"]\nrepo = \"{}\"\n",
        env.config.url(),
        dir.path().display()
    );
    let file = db.path().join("driftfix.toml");
    std::fs::write(&file, config).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_driftfix"))
            .args(args)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env_remove("AWS_PROFILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap()
    };
    let o = run(&["sync", "--config", file.to_str().unwrap(), "--json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((report["non_compliant"].as_u64(), report["enqueued"].as_u64()), (Some(1), Some(1)), "{report}");
    let again = run(&["sync", "--config", file.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("1 NON_COMPLIANT, 0 queued, 1 already known, 0 resolved"), "{text}");
    let unknown = run(&["sync", "--config", file.to_str().unwrap(), "--route", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no route is named `nope`"));
    let keys: Vec<String> = env.config.log().iter().filter_map(|l| l.access_key.clone()).collect();
    assert!(keys.iter().all(|k| k == ACCESS_KEY_ID), "the environment's credentials: {keys:?}");
}

#[tokio::test]
async fn a_deleted_resource_is_noted_and_its_finding_still_worked() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    // The bucket is gone: moto then answers ResourceNotDiscoveredException, as Config does for a
    // resource it forgot.
    let gone = reqwest::Client::new()
        .delete(format!("{}/{BUCKET}", env.moto.url()))
        .header("authorization", Moto::authorization("s3"))
        .send()
        .await
        .unwrap();
    assert!(gone.status().is_success(), "{}", gone.status());
    let Local { store, w, _db, _repo } = local(&env, env.settings(), None).await;
    let (key, _) = bucket_event(&store, "e-1").await;
    assert_eq!(drain(&w).await, 1);
    let notes = audit(&store, &key, "enriched").await.unwrap()["notes"].to_string();
    assert!(notes.contains("holds no configuration item"), "{notes}");
    assert_eq!(store.finding_state(&key).await.unwrap().as_deref(), Some("proposed"), "the code still needs the fix");
    env.assert_only_expected();
}

#[tokio::test]
async fn sync_through_an_aggregator_lists_each_routed_account() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    env.config.add_aggregator("org");
    env.config.set_compliance(RULE, "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT");
    let (store, _db) = support::db::sqlite().await;
    let dir = repo();
    let settings = AwsSettings { aggregator: Some("org".into()), ..env.settings() };
    let aws = env.clients(settings.clone()).await;
    let config = driftfix::config::Config { aws: settings, routes: vec![route(dir.path())], ..Default::default() };
    let r = driftfix::sync::sync(&store, &aws, &config, &Default::default()).await.expect("sync");
    assert_eq!(r.errors, Vec::<String>::new());
    assert_eq!((r.non_compliant, r.enqueued), (1, 1), "{r:?}");
    let calls = env.config.calls();
    assert!(calls.iter().any(|c| c == "GetAggregateComplianceDetailsByConfigRule"), "{calls:?}");
    assert!(!calls.iter().any(|c| c == "GetComplianceDetailsByConfigRule"), "{calls:?}");
    let listed = store.list_findings(&Default::default(), &Default::default()).await.unwrap();
    assert_eq!(listed[0].resource.account, ACCOUNT_ID);
    env.assert_only_expected();
}

#[tokio::test]
async fn an_oversized_notification_fetches_its_configuration_item() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[("team", "web")]).await;
    let Local { store, w, _db, _repo } = local(&env, env.settings(), None).await;
    // The oversized shape carries a summary only: no configuration, no tags.
    let event = json!({
        "version": "0", "id": "o-1", "detail-type": "Config Configuration Item Change", "source": "aws.config",
        "account": ACCOUNT_ID, "time": rfc3339(-60), "region": REGION, "resources": [],
        "detail": {
            "messageType": "OversizedConfigurationItemChangeNotification", "recordVersion": "1.0",
            "notificationCreationTime": rfc3339(-60),
            "configurationItemSummary": {
                "awsAccountId": ACCOUNT_ID, "awsRegion": REGION, "changeType": "UPDATE",
                "configurationItemCaptureTime": rfc3339(-60), "configurationItemStatus": "OK",
                "resourceId": BUCKET, "resourceName": BUCKET, "resourceType": "AWS::S3::Bucket"
            },
            "s3DeliverySummary": { "s3BucketLocation": "config-bucket/oversized.json.gz" }
        }
    })
    .to_string();
    let f = driftfix::finding::parse_event(event.as_bytes()).unwrap();
    assert!(f.configuration.is_none() && f.tags.is_empty(), "the event itself says little");
    let (key, _) = support::record(&store, "o-1", &event).await;
    assert_eq!(drain(&w).await, 1);
    let enriched = audit(&store, &key, "enriched").await.expect("enriched");
    assert_eq!(enriched["arn"], format!("arn:aws:s3:::{BUCKET}"));
    assert!(enriched["notes"].to_string().contains("(1 tag)"), "{enriched}");
    let calls: Vec<String> = env.config.log().iter().map(|l| l.target.clone()).collect();
    assert!(calls.iter().any(|c| c.ends_with(".GetResourceConfigHistory")), "{calls:?}");
    env.assert_only_expected();
}

#[tokio::test]
async fn a_routes_state_in_s3_locates_the_block_by_its_real_identifier() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    // The code names the bucket through a variable: only the state ties `aws_s3_bucket.assets` to it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        "variable \"name\" {\n  default = \"acme-assets\"\n}\n\nresource \"aws_s3_bucket\" \"assets\" {\n  bucket = var.name\n}\n",
    )
    .unwrap();
    let state = json!({
        "version": 4, "terraform_version": "1.9.0", "serial": 1, "lineage": "l", "outputs": {},
        "resources": [{
            "mode": "managed", "type": "aws_s3_bucket", "name": "assets",
            "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
            "instances": [{ "schema_version": 0, "attributes": {
                "id": BUCKET, "bucket": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")
            } }]
        }]
    });
    env.moto.create_bucket("acme-tf-state", &[]).await;
    env.moto.put_object("acme-tf-state", "prod.tfstate", state.to_string().as_bytes()).await;
    let (store, _db) = support::db::sqlite().await;
    let mut r = route(dir.path());
    r.state = vec!["s3://acme-tf-state/prod.tfstate".into()];
    let w = worker(&store, vec![r.clone()], Some(env.clients(env.settings()).await));
    let (key, _) = bucket_event(&store, "e-1").await;
    assert_eq!(drain(&w).await, 1);
    let d = store.finding_detail(&key).await.unwrap().unwrap();
    let loc = d.summary.location.expect("located");
    assert_eq!(loc.address, "aws_s3_bucket.assets");
    // Without the state entry the block is not found by its literal name.
    r.state.clear();
    let (store2, _db2) = support::db::sqlite().await;
    let w2 = worker(&store2, vec![r], Some(env.clients(env.settings()).await));
    let (key2, _) = bucket_event(&store2, "e-1").await;
    assert_eq!(drain(&w2).await, 1);
    assert_ne!(store2.finding_detail(&key2).await.unwrap().unwrap().summary.state, d.summary.state);
}

#[tokio::test]
async fn a_resource_config_recorded_as_deleted_ends_the_finding_without_a_fix() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    // Config's history for the bucket ends with its deletion (moto never records one).
    let deleted = support::aws_config::configuration_item("AWS::S3::Bucket", BUCKET, "ResourceDeleted", now_s() - 30.0);
    env.config.set_history("AWS::S3::Bucket", BUCKET, vec![deleted]);
    let Local { store, w, _db, _repo } = local(&env, env.settings(), None).await;
    let (key, job) = bucket_event(&store, "e-1").await;
    assert_eq!(drain(&w).await, 1);
    let d = store.finding_detail(&key).await.unwrap().unwrap();
    assert_eq!(d.summary.state, "resource-deleted", "{:?}", d.audit);
    assert!(d.reason.unwrap_or_default().contains("recorded the resource as deleted"));
    assert!(d.proposal.is_none() && d.diff.is_none(), "nothing to fix in the code for a resource that is gone");
    let (state, attempts, _, _) = store.job_status(job.unwrap()).await.unwrap().unwrap();
    assert_eq!((state.as_str(), attempts), ("done", 1));
    let calls = env.config.calls();
    assert!(calls.iter().any(|c| c == "GetResourceConfigHistory"), "{calls:?}");
    env.assert_only_expected();
}

#[tokio::test]
async fn an_aws_call_that_outlives_its_timeout_fails_the_attempt_and_keeps_the_finding() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    env.config.set_delay(std::time::Duration::from_millis(2500));
    let settings = AwsSettings { call_timeout_seconds: 1, max_attempts: 1, ..env.settings() };
    let Local { store, w, _db, _repo } = local(&env, settings, None).await;
    let (key, job) = bucket_event(&store, "e-1").await;
    let started = std::time::Instant::now();
    assert!(w.run_once().await.unwrap());
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_millis(2400), "the call was cut at its timeout, not answered: {took:?}");
    let (state, attempts, error, _) = store.job_status(job.unwrap()).await.unwrap().unwrap();
    let error = error.unwrap_or_default();
    assert_eq!((state.as_str(), attempts), ("queued", 1), "{error}");
    assert!(error.starts_with("config:DescribeConfigRules: AWS unavailable"), "{error}");
    assert!(error.contains("timed out") || error.contains("timeout"), "{error}");
    assert!(store.finding_detail(&key).await.unwrap().is_some(), "nothing accepted is lost");
}

#[tokio::test]
async fn a_finding_sync_resolves_closes_its_ticket_with_a_comment() {
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    let (store, _db) = support::db::sqlite().await;
    let gh = support::github::FakeGitHub::start().await;
    let jira = support::jira::FakeJira::start(driftfix::jira::Flavor::Cloud).await;
    let settings = env.settings();
    let (w, key, _, _) = proposed_on_github(&env, &store, &gh, &jira, settings.clone()).await;
    let ticket = jira.issues()[0].key.clone();

    // Someone fixed the bucket in the console: Config no longer lists it.
    env.config.set_compliance(RULE, "AWS::S3::Bucket", BUCKET, "COMPLIANT");
    let dir = repo();
    let config = driftfix::config::Config { aws: settings, routes: vec![route(dir.path())], ..Default::default() };
    let aws = env.clients(config.aws.clone()).await;
    let r = driftfix::sync::sync(&store, &aws, &config, &Default::default()).await.expect("sync");
    assert_eq!(r.resolved, 1, "{r:?}");
    assert_eq!(drain(&w).await, 1, "one ticket step");
    assert_eq!(store.finding_state(&key).await.unwrap().as_deref(), Some("resolved"));
    assert_eq!(jira.status_of(&ticket), Some("Done"));
    let texts = comment_texts(&jira, &ticket);
    assert!(texts.contains("AWS Config now reports the resource COMPLIANT. Closing as resolved."), "{texts}");
    assert_eq!(jira.issues().len(), 1);
    env.assert_only_expected();
}

// Multi-threaded: the fakes answer the child process while the test thread blocks on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_sync_on_its_interval_and_works_what_it_finds() {
    use support::server::{Server, free_port, http_get};
    let Some(env) = Env::start().await else { return };
    env.seed(&[]).await;
    env.config.set_compliance(RULE, "AWS::S3::Bucket", BUCKET, "NON_COMPLIANT");
    let dir = repo();
    let db = tempfile::tempdir().unwrap();
    let config = format!(
        "database_url = \"sqlite://{}\"\n[api]\ntokens = [\"t0ken\"]\n\
         [aws]\nenabled = true\nregion = \"{REGION}\"\ncloudtrail = false\nsync_interval_minutes = 60\n\
         [aws.endpoints]\nconfig = \"{}\"\ns3 = \"{}\"\n\n\
         [[routes]]\nname = \"infra\"\naccounts = [\"{ACCOUNT_ID}\"]\nregions = [\"{REGION}\"]\nrepo = \"{}\"\n",
        db.path().join("driftfix.db").display(),
        env.config.url(),
        env.moto.url(),
        dir.path().display()
    );
    let file = db.path().join("driftfix.toml");
    std::fs::write(&file, config).unwrap();
    let creds = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let mut server = Server::start_with_env(&file, free_port(), &creds);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let found = loop {
        let (status, body) = http_get(&format!("{}/api/findings", server.base), Some("t0ken")).expect("answered");
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        if page["findings"][0]["state"] == "proposed" {
            break page["findings"][0].clone();
        }
        assert!(std::time::Instant::now() < deadline, "sync found nothing to work: {page}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(found["resource"]["id"], BUCKET);
    assert_eq!(found["rule"]["identifier"], "S3_BUCKET_LOGGING_ENABLED");
    let key = found["key"].as_str().unwrap();
    let (_, detail) = http_get(&format!("{}/api/findings/{key}", server.base), Some("t0ken")).unwrap();
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["events"][0]["source"], "sync", "{detail}");
    assert!(env.config.calls().iter().any(|c| c == "GetComplianceDetailsByConfigRule"));
    server.signal("-TERM");
    assert!(server.wait_exit(std::time::Duration::from_secs(20)).success(), "the sync loop stops on SIGTERM");
}
