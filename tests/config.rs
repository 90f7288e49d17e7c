//! The server configuration's contract: the example file is valid, every mistake is reported with its
//! line (all of them, not only the first), environment overrides win, routes match first-wins, secrets
//! never show, `driftfix check-config` exits 0 or 2, and the container files (Dockerfile,
//! docker-compose.yml) agree with what the binary reads.

use driftfix::config::{Config, ConfigError, ENV_KEYS, LogFormat, Problem};
use driftfix::finding::{Finding, parse_event};
use secrecy::ExposeSecret;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn problems(text: &str) -> Vec<Problem> {
    match Config::from_toml(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.problems,
    }
}

/// (line, message) pairs, for compact assertions.
fn lines_of(p: &[Problem]) -> Vec<Option<usize>> {
    p.iter().map(|p| p.line).collect()
}

// ---------------------------------------------------------------------------------------------
// The example file

#[test]
fn the_example_file_is_valid_and_sets_every_key() {
    let text = read("driftfix.example.toml");
    let c = Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(c.database_dialect(), "sqlite");
    assert!(c.dry_run);
    assert_eq!(c.routes.len(), 2);
    assert_eq!(c.routes[0].name, "prod");

    // Every key of every table is written out (with its default or an example), so that the example
    // documents the whole configuration.
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let keys = |t: &toml::Table| t.keys().cloned().collect::<BTreeSet<String>>();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
    assert_eq!(
        keys(&doc),
        set(&[
            "listen",
            "database_url",
            "dry_run",
            "log_format",
            "body_limit_bytes",
            "workers",
            "max_attempts",
            "lease_seconds",
            "queue_high_water",
            "templates_dir",
            "intake",
            "api",
            "github",
            "jira",
            "policy",
            "repos",
            "aws",
            "routes"
        ])
    );
    assert_eq!(keys(doc["github"].as_table().unwrap()), set(&["app_id", "private_key", "private_key_file", "api_url"]));
    assert_eq!(
        keys(doc["jira"].as_table().unwrap()),
        set(&["url", "flavor", "email", "token", "project", "issue_type"])
    );
    let intake = doc["intake"].as_table().unwrap();
    assert_eq!(keys(intake), set(&["eventbridge", "sns", "github"]));
    assert_eq!(keys(intake["eventbridge"].as_table().unwrap()), set(&["header", "api_keys", "basic_auth"]));
    assert_eq!(keys(intake["sns"].as_table().unwrap()), set(&["topic_arns"]));
    assert_eq!(keys(intake["github"].as_table().unwrap()), set(&["webhook_secrets"]));
    assert_eq!(keys(doc["api"].as_table().unwrap()), set(&["tokens"]));
    assert_eq!(
        keys(doc["policy"].as_table().unwrap()),
        set(&[
            "ssh_allowed_cidrs",
            "port_allowed_cidrs",
            "s3_sse_algorithm",
            "s3_kms_key_id",
            "s3_log_bucket",
            "s3_log_prefix",
            "rds_backup_retention_days",
            "exemption_tags"
        ])
    );
    let repos = doc["repos"].as_table().unwrap();
    assert_eq!(
        keys(repos),
        set(&[
            "allowed_overrides",
            "labels",
            "reviewers",
            "github_issues",
            "pr_concurrent_limit",
            "pr_hourly_limit",
            "risk"
        ])
    );
    assert_eq!(keys(repos["risk"].as_table().unwrap()), set(&["low", "medium", "high"]));
    assert_eq!(c.repos, driftfix::config::repo::RepoDefaults::default(), "the example shows the defaults");
    // `aggregator` (like a route's `role_arn`) has no value meaning "unset", so it is shown commented out.
    let aws = doc["aws"].as_table().unwrap();
    assert_eq!(
        keys(aws),
        set(&[
            "enabled",
            "region",
            "connect_timeout_seconds",
            "call_timeout_seconds",
            "max_attempts",
            "rule_cache_seconds",
            "cloudtrail",
            "cloudtrail_lookback_hours",
            "sync_interval_minutes",
            "verify",
            "verify_delay_minutes",
            "verify_poll_seconds",
            "verify_timeout_minutes",
            "endpoints"
        ])
    );
    assert_eq!(keys(aws["endpoints"].as_table().unwrap()), set(&["config", "cloudtrail", "s3", "sts"]));
    let aws_defaults = driftfix::config::aws::Aws { region: "us-east-1".into(), ..Default::default() };
    assert_eq!(c.aws, aws_defaults, "the example shows the defaults");
    assert!(text.contains("# aggregator = ") && text.contains("# role_arn = "));
    let route = doc["routes"].as_array().unwrap()[0].as_table().unwrap();
    assert_eq!(keys(route), set(&["name", "accounts", "regions", "resource_tags", "repo", "paths", "state"]));
    // The [policy] table is exactly what `driftfix remediate --policy` reads.
    let policy_text =
        text.split_once("\n[policy]\n").unwrap().1.split_once("\n[repos]").unwrap().0.replace("[policy.", "[");
    assert_eq!(driftfix::policy::Policy::from_toml(&policy_text).unwrap(), c.policy);
}

#[test]
fn an_empty_file_is_valid() {
    let c = Config::from_toml("").unwrap();
    assert_eq!(c.workers, 2);
    assert!(c.routes.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Problems and their lines

#[test]
fn unknown_key_in_a_nested_table_names_the_table_and_line() {
    let p = problems("listen = \"0.0.0.0:8080\"\n\n[intake.eventbridge]\nheader = \"x-api-key\"\napi_key = [\"k\"]\n");
    assert_eq!(lines_of(&p), [Some(5)]);
    assert!(p[0].message.starts_with("unknown key `api_key` in [intake.eventbridge]"), "{}", p[0].message);
    assert!(p[0].message.contains("`api_keys`"), "the valid keys are listed: {}", p[0].message);
    let p = problems("[policy]\nssh_allowed_cidr = []\n");
    assert_eq!(lines_of(&p), [Some(2)]);
    assert!(p[0].message.starts_with("unknown key `ssh_allowed_cidr` in [policy]"), "{}", p[0].message);
    let p = problems("[intake.eventbrige]\nheader = \"x\"\n");
    assert_eq!(lines_of(&p), [Some(1)]);
    assert!(p[0].message.starts_with("unknown key `eventbrige` in [intake]"), "{}", p[0].message);
}

#[test]
fn wrong_types_name_the_key() {
    let p =
        problems("workers = \"two\"\ndry_run = \"yes\"\n[intake.sns]\ntopic_arns = \"arn:aws:sns:us-east-1:1:t\"\n");
    assert_eq!(lines_of(&p), [Some(1), Some(2), Some(4)]);
    assert!(p[0].message.starts_with("`workers`: invalid type: string \"two\""), "{}", p[0].message);
    assert!(p[1].message.starts_with("`dry_run`:"), "{}", p[1].message);
    assert!(p[2].message.starts_with("`intake.sns.topic_arns`:"), "{}", p[2].message);
    assert!(p[2].message.contains("expected an array"), "{}", p[2].message);
    let p = problems("log_format = \"xml\"\n");
    assert_eq!(p[0].message, "`log_format`: unknown value `xml`, expected `human` or `json`");
    let p = problems("\nworkers = -1\n");
    assert_eq!(lines_of(&p), [Some(2)]);
    assert!(p[0].message.contains("expected a whole number"), "{}", p[0].message);
}

#[test]
fn duplicate_route_names_point_at_the_second() {
    let text = "[[routes]]\nname = \"prod\"\nrepo = \"/a\"\n\n[[routes]]\nname = \"prod\"\nrepo = \"/b\"\n";
    let p = problems(text);
    assert_eq!(lines_of(&p), [Some(6)]);
    assert_eq!(p[0].message, "route name `prod` is used twice (first at line 2)");
}

#[test]
fn listen_url_and_limits_are_checked_with_lines() {
    let p = problems("listen = \"localhost\"\n");
    assert_eq!(lines_of(&p), [Some(1)]);
    assert!(p[0].message.starts_with("`listen`: not an `IP:port` address"), "{}", p[0].message);
    let p = problems("# db\ndatabase_url = \"mysql://app:s3cret@db/app\"\n");
    assert_eq!(lines_of(&p), [Some(2)]);
    assert_eq!(p[0].message, "`database_url` must start with sqlite: or postgres: (not `mysql:`)");
    let p = problems("body_limit_bytes = 0\nlease_seconds = 0\nworkers = 0\n");
    assert_eq!(lines_of(&p), [Some(1), Some(2)], "workers = 0 is valid: an intake-only replica");
    assert_eq!(p[0].message, "`body_limit_bytes` must be at least 1");
}

#[test]
fn bad_policy_cidrs_are_reported_each_with_its_line() {
    let text = "[policy]\nssh_allowed_cidrs = [\n  \"10.0.0.0/8\",\n  \"10.1.0.0\",\n]\n\
                s3_sse_algorithm = \"DES\"\n[policy.port_allowed_cidrs]\n3389 = [\"0.0.0.0/33\"]\nrdp = []\n";
    let p = problems(text);
    assert_eq!(lines_of(&p), [Some(4), Some(6), Some(8), Some(9)], "{p:#?}");
    assert_eq!(p[0].message, "`policy.ssh_allowed_cidrs` holds `10.1.0.0`, which is not a CIDR block");
    assert!(p[1].message.contains("`s3_sse_algorithm` must be \"aws:kms\" or \"AES256\""), "{}", p[1].message);
    assert_eq!(p[2].message, "`policy.port_allowed_cidrs.3389` holds `0.0.0.0/33`, which is not a CIDR block");
    assert!(p[3].message.contains("key `rdp` is not a port number"), "{}", p[3].message);
}

#[test]
fn routes_are_checked_one_by_one() {
    let text = "\
[[routes]]
name = \"a\"
repo = \"\"

[[routes]]
name = \"b\"
repos = \"/r\"
repo = \"/r\"

[[routes]]
name = \"c\"

[[routes]]
name = \"d\"
repo = \"/r\"
accounts = [\"12345678901\"]
regions = [\"us-east1\"]
paths = [\"../elsewhere\"]
";
    let p = problems(text);
    assert_eq!(lines_of(&p), [Some(3), Some(7), Some(10), Some(16), Some(17), Some(18)], "{p:#?}");
    assert_eq!(p[0].message, "`repo` in [[routes]] #1 (`a`) must not be empty");
    assert!(p[1].message.starts_with("unknown key `repos` in [[routes]] #2 (`b`)"), "{}", p[1].message);
    assert_eq!(p[2].message, "missing required key `repo` in [[routes]] #3 (`c`)");
    assert!(p[3].message.contains("`12345678901` is not a 12-digit AWS account id"), "{}", p[3].message);
    assert!(p[4].message.contains("`us-east1` is not an AWS region name"), "{}", p[4].message);
    assert!(p[5].message.contains("must be a relative path inside the repository"), "{}", p[5].message);
}

#[test]
fn every_problem_in_a_file_is_reported_in_line_order() {
    let text = "\
listen = \"0.0.0.0\"
database_url = \"redis://cache:6379\"
log_format = \"xml\"

[intake.eventbridge]
api_key = [\"k\"]

[api]
tokens = [\"\"]

[policy]
ssh_allowed_cidrs = [\"10.0.0.0\"]

[[routes]]
name = \"prod\"
repo = \"/srv/tf\"

[[routes]]
name = \"prod\"
repo = \"/srv/tf\"
";
    let e = Config::from_toml(text).unwrap_err();
    assert_eq!(lines_of(&e.problems), [Some(1), Some(2), Some(3), Some(6), Some(9), Some(12), Some(19)], "{e}");
    let rendered = e.to_string();
    assert_eq!(rendered.lines().count(), 7);
    assert!(rendered.lines().all(|l| l.starts_with("line ")), "{rendered}");
}

#[test]
fn toml_syntax_errors_have_lines_too() {
    let p = problems("listen = \"0.0.0.0:8080\"\nworkers = \n[api\n");
    assert!(!p.is_empty());
    assert!(p.iter().all(|p| p.line.is_some() && p.message.starts_with("TOML syntax:")), "{p:#?}");
    assert_eq!(p[0].line, Some(2));
    let p = problems("workers = 1\nworkers = 2\n");
    assert_eq!(lines_of(&p), [Some(2)]);
}

// ---------------------------------------------------------------------------------------------
// Environment

fn write_temp(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("driftfix.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn environment_wins_over_the_file_and_is_parsed() {
    let (_dir, path) = write_temp(
        "listen = \"127.0.0.1:1\"\nworkers = 9\ndry_run = true\n[intake.eventbridge]\napi_keys = [\"from-file\"]\n\
         [intake.sns]\ntopic_arns = [\"arn:aws:sns:us-east-1:123456789012:a\"]\n",
    );
    let c = Config::load(
        Some(&path),
        env(&[
            ("PATH", "/bin"),
            ("DRIFTFIX_LISTEN", "127.0.0.1:9090"),
            ("DRIFTFIX_WORKERS", " 4 "),
            ("DRIFTFIX_DRY_RUN", "false"),
            ("DRIFTFIX_LOG_FORMAT", "json"),
            ("DRIFTFIX_BODY_LIMIT_BYTES", "65_536"),
            ("DRIFTFIX_MAX_ATTEMPTS", "3"),
            ("DRIFTFIX_LEASE_SECONDS", "60"),
            ("DRIFTFIX_QUEUE_HIGH_WATER", "50"),
            ("DRIFTFIX_TEMPLATES_DIR", "/etc/driftfix/templates"),
            ("DRIFTFIX_DATABASE_URL", "postgres://u:p@db:5432/driftfix"),
            ("DRIFTFIX_INTAKE_EVENTBRIDGE_HEADER", "X-Driftfix-Key"),
            ("DRIFTFIX_INTAKE_EVENTBRIDGE_API_KEYS", "new-key, old-key,"),
            ("DRIFTFIX_INTAKE_EVENTBRIDGE_BASIC_AUTH", "bot:pw1,bot:pw2"),
            ("DRIFTFIX_INTAKE_SNS_TOPIC_ARNS", ""),
            ("DRIFTFIX_INTAKE_GITHUB_WEBHOOK_SECRETS", "gh1"),
            ("DRIFTFIX_API_TOKENS", "t1,t2,t3"),
            // not configuration: ignored
            ("DRIFTFIX_TEST_POSTGRES_URL", "postgres://x"),
            ("DRIFTFIX_SKIP_ORACLE", "1"),
            ("DRIFTFIX_CHECKOV", "/bin/true"),
            ("DRIFTFIX_BENCH_CHECKOV", "1"),
            ("DRIFTFIX_CACHE", "/tmp"),
        ]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.listen.to_string(), "127.0.0.1:9090");
    assert_eq!(c.workers, 4);
    assert!(!c.dry_run);
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.body_limit_bytes, 65_536);
    assert_eq!((c.max_attempts, c.lease_seconds, c.queue_high_water), (3, 60, 50));
    assert_eq!(c.templates_dir.as_deref(), Some(Path::new("/etc/driftfix/templates")));
    assert_eq!(c.database_dialect(), "postgres");
    assert_eq!(c.intake.eventbridge.header, "x-driftfix-key", "header names are case-insensitive");
    let exposed = |v: &[secrecy::SecretString]| v.iter().map(|s| s.expose_secret().to_owned()).collect::<Vec<_>>();
    assert_eq!(exposed(&c.intake.eventbridge.api_keys), ["new-key", "old-key"]);
    assert_eq!(exposed(&c.intake.eventbridge.basic_auth), ["bot:pw1", "bot:pw2"]);
    assert!(c.intake.sns.topic_arns.is_empty(), "an empty variable clears the list");
    assert_eq!(exposed(&c.intake.github.webhook_secrets), ["gh1"]);
    assert_eq!(exposed(&c.api.tokens), ["t1", "t2", "t3"]);

    // DRY_RUN takes the usual spellings
    for (v, want) in [("true", true), ("1", true), ("FALSE", false), ("0", false)] {
        let c = Config::load(None, env(&[("DRIFTFIX_DRY_RUN", v)])).unwrap();
        assert_eq!(c.dry_run, want, "{v}");
    }
}

#[test]
fn unknown_or_malformed_variables_are_errors_naming_them() {
    let e = Config::load(None, env(&[("DRIFTFIX_WORKER", "3"), ("DRIFTFIX_ROUTES", "x")])).unwrap_err();
    let vars: Vec<_> = e.problems.iter().map(|p| p.env.as_deref().unwrap()).collect();
    assert_eq!(vars, ["DRIFTFIX_WORKER", "DRIFTFIX_ROUTES"]);
    assert!(e.problems[0].message.contains("did you mean DRIFTFIX_WORKERS?"), "{}", e.problems[0].message);
    assert!(e.to_string().starts_with("env DRIFTFIX_WORKER: unknown driftfix variable"), "{e}");

    let e = Config::load(
        None,
        env(&[
            ("DRIFTFIX_WORKERS", "many"),
            ("DRIFTFIX_DRY_RUN", "maybe"),
            ("DRIFTFIX_LISTEN", "8080"),
            ("DRIFTFIX_LEASE_SECONDS", "0"),
            ("DRIFTFIX_DATABASE_URL", "mysql://root:hunter2@db/x"),
        ]),
    )
    .unwrap_err();
    let mut vars: Vec<_> = e.problems.iter().map(|p| p.env.clone().unwrap()).collect();
    vars.sort();
    assert_eq!(
        vars,
        ["DRIFTFIX_DATABASE_URL", "DRIFTFIX_DRY_RUN", "DRIFTFIX_LEASE_SECONDS", "DRIFTFIX_LISTEN", "DRIFTFIX_WORKERS"]
    );
    assert!(e.problems.iter().all(|p| p.line.is_none()));
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn the_file_comes_from_the_argument_or_driftfix_config() {
    let (_dir, path) = write_temp("workers = 7\n");
    let from_env = Config::load(None, env(&[("DRIFTFIX_CONFIG", path.to_str().unwrap())])).unwrap();
    assert_eq!(from_env.workers, 7);
    let e = Config::load(Some(Path::new("/nonexistent/driftfix.toml")), env(&[])).unwrap_err();
    assert_eq!(e.file.as_deref(), Some("/nonexistent/driftfix.toml"));
    assert!(e.to_string().starts_with("/nonexistent/driftfix.toml: cannot read the file"), "{e}");
    // problems in a named file render as FILE:LINE
    let (_dir, path) = write_temp("\nmax_attempts = 0\n");
    let e: ConfigError = Config::load(Some(&path), env(&[])).unwrap_err();
    assert_eq!(e.to_string(), format!("{}:2: `max_attempts` must be at least 1", path.display()));
}

// ---------------------------------------------------------------------------------------------
// Routes

fn finding(account: &str, region: &str, tags: &[(&str, &str)]) -> Finding {
    let mut f = parse_event(read("examples/events/eb_compliance_change.json").as_bytes()).unwrap();
    f.resource.account = account.into();
    f.resource.region = region.into();
    f.tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    f
}

#[test]
fn the_first_matching_route_wins() {
    let c = Config::from_toml(
        r#"
[[routes]]
name = "prod-eu"
accounts = ["111111111111"]
regions = ["eu-west-1"]
repo = "/tf/prod"

[[routes]]
name = "prod-tagged"
accounts = ["111111111111"]
resource_tags = { team = "payments", env = "prod" }
repo = "/tf/payments"

[[routes]]
name = "prod-any"
accounts = ["111111111111", "222222222222"]
repo = "/tf/prod"

[[routes]]
name = "us-east-anything"
regions = ["us-east-1"]
repo = "/tf/shared"
"#,
    )
    .unwrap();
    let route = |f: &Finding| c.route_for(f).map(|r| r.name.as_str());
    assert_eq!(route(&finding("111111111111", "eu-west-1", &[])), Some("prod-eu"));
    // the tagged route needs every tag, with its value
    let both = [("team", "payments"), ("env", "prod"), ("owner", "x")];
    assert_eq!(route(&finding("111111111111", "us-east-1", &both)), Some("prod-tagged"));
    assert_eq!(route(&finding("111111111111", "us-east-1", &[("team", "payments")])), Some("prod-any"));
    assert_eq!(route(&finding("111111111111", "us-east-1", &[("team", "x"), ("env", "prod")])), Some("prod-any"));
    // first match wins even when a later route is more specific in another way
    assert_eq!(route(&finding("222222222222", "us-east-1", &[])), Some("prod-any"));
    assert_eq!(route(&finding("333333333333", "us-east-1", &[])), Some("us-east-anything"));
    assert_eq!(route(&finding("333333333333", "eu-west-1", &[])), None, "unrouted: recorded as no-route");
    // no routes: nothing is routed
    assert_eq!(Config::from_toml("").unwrap().route_for(&finding("111111111111", "eu-west-1", &[])), None);
}

// ---------------------------------------------------------------------------------------------
// Secrets

const SECRET_FILE: &str = r#"
database_url = "postgres://driftfix:pg-SECRET-1@db:5432/driftfix"
[intake.eventbridge]
api_keys = ["eb-SECRET-2", "eb-SECRET-3"]
basic_auth = ["bot:ba-SECRET-4"]
[intake.sns]
topic_arns = ["arn:aws:sns:us-east-1:123456789012:config"]
[intake.github]
webhook_secrets = ["gh-SECRET-5"]
[api]
tokens = ["api-SECRET-6"]
[[routes]]
name = "prod"
repo = "/srv/terraform"
[[routes]]
name = "staging"
repo = "/srv/terraform-staging"
"#;

#[test]
fn debug_never_shows_secrets() {
    let c = Config::from_toml(SECRET_FILE).unwrap();
    assert_eq!(c.intake.eventbridge.api_keys.len(), 2);
    for shown in [format!("{c:?}"), format!("{c:#?}")] {
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("REDACTED"));
        assert!(shown.contains("arn:aws:sns:us-east-1:123456789012:config"), "non-secrets stay visible");
    }
    // nor does an error about the secrets' own keys
    let e =
        Config::from_toml("[api]\ntokens = \"api-SECRET-7\"\n[intake.github]\nwebhook_secrets = [1]\n").unwrap_err();
    assert_eq!(e.problems.len(), 2, "{e}");
    assert!(!format!("{e} {e:?}").contains("SECRET"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// `driftfix check-config`

/// Run `driftfix check-config` with no inherited `DRIFTFIX_*` variables, plus `vars`.
fn check_config(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_driftfix"));
    cmd.arg("check-config").args(args).env("NO_COLOR", "1");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("DRIFTFIX_")) {
        cmd.env_remove(k);
    }
    cmd.envs(vars.iter().copied());
    cmd.output().expect("driftfix runs")
}

fn out(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn check_config_prints_a_summary_without_secrets() {
    let (_dir, path) = write_temp(SECRET_FILE);
    let file = path.to_str().unwrap();
    let o = check_config(&[file], &[("DRIFTFIX_API_TOKENS", "api-SECRET-8")]);
    let (stdout, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with(&format!("{file}: ok\n")), "{stdout}");
    for want in ["database:  postgres", "routes:    2 (prod, staging)", "api:       1 token", "DRIFTFIX_API_TOKENS"] {
        assert!(stdout.contains(want), "missing {want:?} in\n{stdout}");
    }
    assert!(stdout.contains("eventbridge (2 API keys in `x-api-key`, 1 Basic-auth pair), sns (1 topic), github"));
    assert!(!stdout.contains("SECRET") && !stdout.contains("postgres://"), "{stdout}");

    // the file can also come from DRIFTFIX_CONFIG, and the example file passes
    let example = root().join("driftfix.example.toml");
    let o = check_config(&[], &[("DRIFTFIX_CONFIG", example.to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(0), "{:?}", out(&o));
}

#[test]
fn check_config_lists_every_problem_with_file_and_line_and_exits_2() {
    let (_dir, path) = write_temp(
        "listen = \"nowhere\"\n[intake.eventbridge]\napi_key = [\"eb-SECRET\"]\n[[routes]]\nname = \"a\"\nrepo = \"/r\"\n\
         [[routes]]\nname = \"a\"\nrepo = \"/r\"\n",
    );
    let file = path.to_str().unwrap();
    let o = check_config(&[file], &[("DRIFTFIX_WROKERS", "2")]);
    let (stdout, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 5, "{stderr}");
    assert!(lines[0].starts_with(&format!("{file}:1: `listen`")), "{stderr}");
    assert!(lines[1].starts_with(&format!("{file}:3: unknown key `api_key` in [intake.eventbridge]")), "{stderr}");
    assert!(lines[2].starts_with(&format!("{file}:8: route name `a` is used twice")), "{stderr}");
    assert!(lines[3].starts_with("env DRIFTFIX_WROKERS: unknown driftfix variable"), "{stderr}");
    assert_eq!(lines[4], format!("error: {file}: 4 problems"));
    assert!(!stderr.contains("SECRET"));

    let o = check_config(&["/nonexistent/driftfix.toml"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).1.starts_with("/nonexistent/driftfix.toml: cannot read the file"), "{:?}", out(&o));
}

// ---------------------------------------------------------------------------------------------
// Container files. No Docker engine runs here: the files are read and checked against the binary.

/// The YAML subset docker-compose.yml is written in: block maps and lists by indentation, scalars
/// (plain or double-quoted), `#` comments. Anything else fails the test, which keeps the file simple.
#[derive(Debug, Clone, PartialEq)]
enum Yaml {
    Scalar(String),
    List(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    fn get(&self, key: &str) -> &Yaml {
        match self {
            Yaml::Map(entries) => {
                entries.iter().find(|(k, _)| k == key).map(|(_, v)| v).unwrap_or_else(|| panic!("no `{key}`"))
            }
            other => panic!("`{key}` looked up in {other:?}"),
        }
    }
    fn keys(&self) -> Vec<&str> {
        match self {
            Yaml::Map(entries) => entries.iter().map(|(k, _)| k.as_str()).collect(),
            other => panic!("not a map: {other:?}"),
        }
    }
    fn str(&self) -> &str {
        match self {
            Yaml::Scalar(s) => s,
            other => panic!("not a scalar: {other:?}"),
        }
    }
    fn strs(&self) -> Vec<&str> {
        match self {
            Yaml::List(items) => items.iter().map(Yaml::str).collect(),
            other => panic!("not a list: {other:?}"),
        }
    }
}

fn parse_yaml(text: &str) -> Yaml {
    let mut lines = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        assert!(!raw.contains('\t'), "line {}: tabs are not in the subset", n + 1);
        let content = strip_comment(raw).trim_end();
        if content.trim().is_empty() {
            continue;
        }
        let indent = content.len() - content.trim_start().len();
        lines.push((indent, content.trim_start(), n + 1));
    }
    let mut pos = 0;
    let doc = yaml_block(&lines, &mut pos, 0);
    assert_eq!(pos, lines.len(), "line {}: unexpected indentation", lines.get(pos).map_or(0, |l| l.2));
    doc
}

fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted && prev.is_whitespace() => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

fn yaml_block(lines: &[(usize, &str, usize)], pos: &mut usize, indent: usize) -> Yaml {
    let is_item = |s: &str| s == "-" || s.starts_with("- ");
    if is_item(lines[*pos].1) {
        let mut items = Vec::new();
        while let Some(&(ind, content, n)) = lines.get(*pos)
            && ind == indent
            && is_item(content)
        {
            let item = content[1..].trim();
            assert!(
                !item.is_empty() && split_key(item).is_none(),
                "line {n}: only scalar list items are in the subset"
            );
            items.push(Yaml::Scalar(yaml_scalar(item, n)));
            *pos += 1;
        }
        return Yaml::List(items);
    }
    let mut entries = Vec::new();
    while let Some(&(ind, content, n)) = lines.get(*pos)
        && ind == indent
    {
        let (key, value) = split_key(content).unwrap_or_else(|| panic!("line {n}: expected `key: value`"));
        *pos += 1;
        let value = if value.is_empty() {
            match lines.get(*pos) {
                Some(&(child, _, _)) if child > indent => yaml_block(lines, pos, child),
                _ => Yaml::Scalar(String::new()),
            }
        } else {
            Yaml::Scalar(yaml_scalar(value, n))
        };
        assert!(entries.iter().all(|(k, _)| k != key), "line {n}: duplicate key `{key}`");
        entries.push((key.to_owned(), value));
    }
    Yaml::Map(entries)
}

/// `key: value` or `key:` (a plain key).
fn split_key(s: &str) -> Option<(&str, &str)> {
    let (key, value) = match s.split_once(": ") {
        Some((k, v)) => (k, v.trim()),
        None => (s.strip_suffix(':')?, ""),
    };
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    plain.then_some((key, value))
}

fn yaml_scalar(s: &str, n: usize) -> String {
    if let Some(inner) = s.strip_prefix('"') {
        let inner = inner.strip_suffix('"').unwrap_or_else(|| panic!("line {n}: unterminated string"));
        assert!(!inner.contains(['"', '\\']), "line {n}: escapes are not in the subset");
        return inner.to_owned();
    }
    assert!(!s.starts_with(['\'', '&', '*', '!', '|', '>', '{']), "line {n}: `{s}` is not in the subset");
    s.to_owned()
}

/// `${NAME}`, `${NAME:?msg}`, `${NAME:-default}`: the variable names interpolated into `s`.
fn interpolated(s: &str) -> Vec<&str> {
    s.match_indices("${")
        .map(|(i, _)| {
            let rest = &s[i + 2..];
            &rest[..rest.find([':', '}', '-', '?']).expect("closed interpolation")]
        })
        .collect()
}

/// Replace every interpolation with a stand-in value, as compose would with the variable set.
fn substitute(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').expect("closed interpolation");
        out.push_str("test-value-from-the-shell");
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    out
}

/// Dockerfile instructions (continuations joined, comments dropped): (INSTRUCTION, arguments).
fn dockerfile() -> Vec<(String, String)> {
    let text = read("Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(t);
                let (instr, args) = current.split_once(' ').expect("INSTRUCTION args");
                out.push((instr.to_owned(), args.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

fn json_args(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("`{s}` is not the exec (JSON) form: {e}"))
}

#[test]
fn compose_file_agrees_with_the_binary_and_the_dockerfile() {
    let compose = parse_yaml(&read("docker-compose.yml"));
    let services = compose.get("services");
    assert_eq!(services.keys(), ["postgres", "driftfix"]);
    let app = services.get("driftfix");
    let db = services.get("postgres");
    assert!(db.get("image").str().starts_with("postgres:15"), "{:?}", db.get("image"));
    assert_eq!(app.get("depends_on").keys(), ["postgres"]);
    assert_eq!(app.get("build").str(), ".");

    // environment: every DRIFTFIX_ key is one the binary reads, and so is every DRIFTFIX_ variable
    // taken from the operator's shell (the server would reject an unknown one in the same shell).
    let environment: Vec<(&str, &str)> =
        app.get("environment").strs().into_iter().map(|e| e.split_once('=').expect("KEY=value")).collect();
    assert!(environment.iter().any(|(k, _)| *k == "DRIFTFIX_DATABASE_URL"));
    for (key, value) in &environment {
        assert!(key.starts_with("DRIFTFIX_") && ENV_KEYS.contains(key), "{key} is not read by driftfix");
        for var in interpolated(value) {
            assert!(!var.starts_with("DRIFTFIX_") || ENV_KEYS.contains(&var), "${{{var}}} is not a driftfix key");
        }
    }
    let env_map: Vec<(String, String)> = environment.iter().map(|(k, v)| (k.to_string(), substitute(v))).collect();
    let get_env = |k: &str| env_map.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    for secret in ["DRIFTFIX_INTAKE_EVENTBRIDGE_API_KEYS", "DRIFTFIX_API_TOKENS"] {
        let raw = environment.iter().find(|(k, _)| *k == secret).unwrap().1;
        assert!(raw.contains(":?"), "{secret} must be required from the shell, not written here: {raw}");
    }

    // the configuration the container would run with is valid: the example file plus this environment
    let example = root().join("driftfix.example.toml");
    let config = Config::load(Some(&example), env_map.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.database_dialect(), "postgres");
    assert_eq!(config.intake.eventbridge.api_keys.len(), 1);

    // the database URL points at the postgres service with its credentials
    let url = url::Url::parse(get_env("DRIFTFIX_DATABASE_URL").unwrap()).unwrap();
    let db_env: Vec<(&str, &str)> =
        db.get("environment").strs().into_iter().map(|e| e.split_once('=').unwrap()).collect();
    let db_var = |k: &str| db_env.iter().find(|(key, _)| *key == k).unwrap().1;
    assert_eq!(url.host_str(), Some("postgres"), "the service name");
    assert_eq!(url.port(), Some(5432));
    assert_eq!(url.username(), db_var("POSTGRES_USER"));
    assert_eq!(url.password(), Some(db_var("POSTGRES_PASSWORD")));
    assert_eq!(url.path(), format!("/{}", db_var("POSTGRES_DB")));
    let data = db.get("volumes").strs()[0].split_once(':').unwrap().0.to_owned();
    assert!(compose.get("volumes").keys().contains(&data.as_str()), "named volume `{data}` is declared");

    // ports: the published container port is the one driftfix listens on
    let ports = app.get("ports").strs();
    assert_eq!(ports, ["8080:8080"]);
    let container_port: u16 = ports[0].rsplit_once(':').unwrap().1.parse().unwrap();
    assert_eq!(container_port, Config::default().listen.port());
    assert_eq!(container_port, config.listen.port(), "DRIFTFIX_LISTEN");

    // Dockerfile: EXPOSE, the config path in CMD, the entrypoint
    let docker = dockerfile();
    let instr = |name: &str| docker.iter().filter(|(i, _)| i == name).map(|(_, a)| a.as_str()).collect::<Vec<_>>();
    assert_eq!(instr("EXPOSE"), [container_port.to_string()]);
    assert_eq!(json_args(instr("ENTRYPOINT")[0]), ["driftfix"]);
    let cmd = json_args(instr("CMD")[0]);
    assert_eq!(cmd[0], "serve");
    let config_path = &cmd[cmd.iter().position(|a| a == "--config").expect("--config") + 1];
    let mount = app
        .get("volumes")
        .strs()
        .into_iter()
        .find(|v| v.starts_with("./driftfix.toml:"))
        .expect("the config file is mounted");
    let parts: Vec<&str> = mount.split(':').collect();
    assert_eq!(parts[1], config_path, "compose mounts the config where the image's CMD reads it");
    assert_eq!(parts.get(2), Some(&"ro"), "read-only");
}

#[test]
fn dockerfile_is_multi_stage_non_root_and_copies_what_exists() {
    let docker = dockerfile();
    let froms: Vec<&str> = docker.iter().filter(|(i, _)| i == "FROM").map(|(_, a)| a.as_str()).collect();
    assert_eq!(froms, ["rust:1.95-slim-bookworm AS builder", "debian:bookworm-slim AS runtime"]);
    let runs: String = docker.iter().filter(|(i, _)| i == "RUN").map(|(_, a)| a.as_str()).collect();
    assert!(runs.contains("cargo build --release --locked"));
    assert!(runs.contains("ca-certificates"));
    assert!(runs.contains("useradd --system --uid 10001"));
    let users: Vec<&str> = docker.iter().filter(|(i, _)| i == "USER").map(|(_, a)| a.as_str()).collect();
    assert_eq!(users, ["10001:10001"], "runs as the driftfix user, never root");
    assert!(docker.iter().any(|(i, a)| i == "WORKDIR" && a == "/var/lib/driftfix"));
    // the build context holds every path the image copies, and the release build reads nothing else
    // from outside them (Cargo.toml declares the bench target; migrations and templates are compiled in)
    for (_, args) in docker.iter().filter(|(i, a)| i == "COPY" && !a.starts_with("--from")) {
        let words: Vec<&str> = args.split_whitespace().collect();
        for src in &words[..words.len() - 1] {
            assert!(root().join(src).exists(), "COPY source `{src}` does not exist");
        }
    }
    let copied: Vec<&str> = docker
        .iter()
        .filter(|(i, a)| i == "COPY" && !a.starts_with("--from"))
        .flat_map(|(_, a)| a.split_whitespace())
        .collect();
    for needed in ["Cargo.toml", "Cargo.lock", "src", "migrations", "templates", "benches"] {
        assert!(copied.contains(&needed), "the builder needs `{needed}`");
    }
}

// ---------------------------------------------------------------------------------------------
// The GitHub App

#[test]
fn github_routes_need_an_app_with_a_readable_pem_key() {
    let route = "[[routes]]\nname = \"gh\"\nrepo = \"acme/infra\"\n";
    let e = Config::from_toml(route).unwrap_err().to_string();
    assert!(e.contains("route `gh` names GitHub repository `acme/infra`, but no GitHub App is configured"), "{e}");

    let missing = format!("[github]\napp_id = 12\nprivate_key_file = \"/nonexistent/key.pem\"\n{route}");
    let e = Config::from_toml(&missing).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("cannot read `github.private_key_file`"), "{e}");

    let not_pem = format!("[github]\napp_id = 12\nprivate_key = \"hunter2\"\n{route}");
    let e = Config::from_toml(&not_pem).unwrap_err().to_string();
    assert!(e.contains("not a PEM private key") && !e.contains("hunter2"), "{e}");

    // From the environment, as a one-line secret with literal \n.
    let env = vec![
        ("DRIFTFIX_GITHUB_APP_ID".to_owned(), "12".to_owned()),
        (
            "DRIFTFIX_GITHUB_PRIVATE_KEY".to_owned(),
            "-----BEGIN RSA PRIVATE KEY-----\\nMIIB\\n-----END RSA PRIVATE KEY-----".to_owned(),
        ),
    ];
    let (_dir, path) = write_temp(route);
    let c = Config::load(Some(&path), env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.github.app_id, 12);
    assert_eq!(c.routes[0].github_repo().map(|r| r.to_string()).as_deref(), Some("acme/infra"));
    let key = c.github.key().unwrap();
    assert!(secrecy::ExposeSecret::expose_secret(&key).contains("KEY-----\nMIIB\n-----END"));
    assert!(!format!("{c:?}").contains("MIIB"), "the key is redacted from Debug");

    // A repo that is neither owner/name nor a local path.
    let e = Config::from_toml("[[routes]]\nname = \"x\"\nrepo = \"https://github.com/a/b\"\n").unwrap_err().to_string();
    assert!(e.contains("is neither `owner/name` nor a local directory"), "{e}");
}

#[test]
fn jira_needs_its_token_project_and_for_cloud_an_email() {
    let e =
        Config::from_toml("[jira]\nurl = \"https://acme.atlassian.net\"\nproject = \"SEC\"\n").unwrap_err().to_string();
    assert!(e.contains("`jira.token` is empty"), "{e}");
    let text = "[jira]\nurl = \"https://acme.atlassian.net\"\nproject = \"SEC\"\ntoken = \"tok-SECRET\"\n";
    let e = Config::from_toml(text).unwrap_err().to_string();
    assert!(e.contains("`jira.email` is empty") && !e.contains("tok-SECRET"), "{e}");
    let dc = "[jira]\nurl = \"https://jira.acme.example\"\nflavor = \"data-center\"\nproject = \"SEC\"\n";
    let env = vec![("DRIFTFIX_JIRA_TOKEN".to_owned(), "pat-SECRET".to_owned())];
    let (_dir, path) = write_temp(dc);
    let c = Config::load(Some(&path), env).unwrap_or_else(|e| panic!("{e}"));
    let client = c.jira.client_config().unwrap();
    assert_eq!(client.flavor, driftfix::jira::Flavor::DataCenter);
    assert!(!format!("{c:?} {client:?}").contains("pat-SECRET"));
    let e = Config::from_toml("[jira]\nurl = \"x\"\nflavor = \"server\"\n").unwrap_err().to_string();
    assert!(e.contains("flavor"), "{e}");
}

#[test]
fn repos_overrides_must_be_known_keys_with_their_line() {
    let err = Config::from_toml("[repos]\nallowed_overrides = [\"rules\", \"everything\"]\n").unwrap_err();
    let lines = err.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("line 2:") && lines[0].contains("everything"), "{lines:?}");
    let ok = Config::from_toml("[repos]\nallowed_overrides = [\"rules\", \"limits\"]\npr_hourly_limit = 3\n").unwrap();
    assert_eq!(ok.repos.pr_hourly_limit, 3);
}
