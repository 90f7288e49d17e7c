//! EC2: IMDSv2 (R-E1), encrypted EBS volumes (R-E3) and EBS encryption by default (R-E2).
//!
//! IMDSv2 is an in-place change. Volume encryption is not: AWS cannot encrypt an existing volume,
//! and Terraform replaces a volume (or an instance, for its block devices) when `encrypted` changes,
//! so that rule only gives a snapshot → encrypted copy → swap runbook and points at encryption by
//! default, the account setting that keeps new volumes encrypted.

use super::common::{bool_check, fix_of, set_attribute, set_in};
use super::{Advice, Check, Context, Fix, RemedyKind, Risk, Rule, RuleMeta, Target, not_literal_advice, where_is};
use crate::terraform::edit;
use crate::terraform::literal::{self, NestedBlock};

pub static RULES: &[&dyn Rule] = &[&Imdsv2, &EncryptedVolumes, &EbsEncryptionByDefault];

/// The account-baseline resource enabling EBS encryption by default (one per region).
const BY_DEFAULT_SNIPPET: &str = "resource \"aws_ebs_encryption_by_default\" \"this\" {\n  enabled = true\n}";

/// Advice for a `dynamic` block whose generated content the bot cannot see.
fn dynamic_advice(cx: &Context, t: &Target, ident: &str, wanted: &str) -> Advice {
    Advice::new(
        format!("`{ident}` is a dynamic block: its content depends on values the bot cannot evaluate"),
        [format!("Make the `{ident}` block of `{}` render {wanted}.", where_is(cx, t.resource))],
    )
}

/// EC2_IMDSV2_CHECK: `metadata_options { http_tokens = "required" }`.
pub struct Imdsv2;

static IMDSV2: RuleMeta = RuleMeta {
    identifier: "EC2_IMDSV2_CHECK",
    name: "ec2-imdsv2-check",
    aliases: &[],
    security_controls: &["EC2.8"],
    config_types: &["AWS::EC2::Instance", "AWS::EC2::LaunchTemplate"],
    terraform_types: &["aws_instance", "aws_launch_template"],
    risk: Risk::Medium,
    remedy: RemedyKind::Fix,
    title: "require IMDSv2",
    explanation: "Requiring session tokens (IMDSv2) stops SSRF and open-proxy bugs from reading the instance's credentials through the metadata service. Software that still uses IMDSv1 stops getting metadata, and containers on the instance may need `http_put_response_hop_limit = 2` to reach it.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/ec2-imdsv2-check.html",
    checkov: &["CKV_AWS_79"],
    params: &[],
};

const METADATA: &str = "metadata_options";

impl Rule for Imdsv2 {
    fn meta(&self) -> &'static RuleMeta {
        &IMDSV2
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        let Some(mo) = literal::nested_blocks(&cx.block(t.resource).body, METADATA).next() else {
            return Check::Violation("there is no `metadata_options` block, so IMDSv1 stays available".into());
        };
        if mo.dynamic {
            return Check::Undecidable(dynamic_advice(cx, t, METADATA, "`http_tokens = \"required\"`"));
        }
        let body = &mo.block.body;
        if matches!(literal::attr_str(body, "http_endpoint"), Some(Ok(e)) if e == "disabled") {
            return Check::Compliant;
        }
        match literal::attr_str(body, "http_tokens") {
            Some(Ok(v)) if v == "required" => Check::Compliant,
            Some(Ok(v)) => Check::Violation(format!("`metadata_options.http_tokens` is `{v}`")),
            None => Check::Violation("`metadata_options.http_tokens` is not set, so IMDSv1 stays available".into()),
            Some(Err(nl)) => {
                Check::Undecidable(not_literal_advice(cx, t, "metadata_options.http_tokens", &nl, "`\"required\"`"))
            }
        }
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        let (file, block) = (cx.file_of(t.resource), cx.block(t.resource));
        let change = match literal::nested_blocks(&block.body, METADATA).next() {
            Some(mo) => (
                set_in(cx, file, mo.block, "http_tokens", "\"required\""),
                "Set `metadata_options.http_tokens = \"required\"`.",
            ),
            None => (
                edit::insert_nested_block(
                    cx.ws,
                    file,
                    block,
                    "metadata_options {\n  http_endpoint = \"enabled\"\n  http_tokens   = \"required\"\n}\n",
                ),
                "Add `metadata_options` with `http_endpoint = \"enabled\"` and `http_tokens = \"required\"`.",
            ),
        };
        let mut fix = fix_of(vec![(change.0, change.1.to_owned())]);
        if let Fix::Edits { notes, .. } = &mut fix
            && cx.index.resource(t.resource).rtype == "aws_launch_template"
        {
            notes.push("Running instances keep the old launch template version: start an instance refresh of the Auto Scaling groups using this template after apply.".into());
        }
        fix
    }
}

/// ENCRYPTED_VOLUMES: `encrypted = true` on volumes and on an instance's block devices.
pub struct EncryptedVolumes;

static VOLUMES: RuleMeta = RuleMeta {
    identifier: "ENCRYPTED_VOLUMES",
    name: "encrypted-volumes",
    aliases: &[],
    security_controls: &["EC2.3"],
    config_types: &["AWS::EC2::Volume"],
    terraform_types: &["aws_ebs_volume"],
    risk: Risk::High,
    remedy: RemedyKind::Advice,
    title: "encrypt the EBS volume",
    explanation: "Encrypting the volume protects its data, its snapshots and the traffic to its instance with KMS. AWS cannot encrypt an existing volume: it has to be replaced by one created from an encrypted snapshot copy, which needs a planned stop of the instance.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/encrypted-volumes.html",
    checkov: &["CKV_AWS_3", "CKV_AWS_8"],
    params: &["kmsId"],
};

/// The block devices of an instance that hold volumes.
const DEVICES: [&str; 2] = ["root_block_device", "ebs_block_device"];

impl Rule for EncryptedVolumes {
    fn meta(&self) -> &'static RuleMeta {
        &VOLUMES
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        if cx.index.resource(t.resource).rtype != "aws_instance" {
            return bool_check(cx, t, "encrypted", true, false);
        }
        let body = &cx.block(t.resource).body;
        if literal::nested_blocks(body, DEVICES[0]).next().is_none() {
            return Check::Violation(
                "there is no `root_block_device` block, so the root volume is not encrypted".into(),
            );
        }
        let mut bad = Vec::new();
        for ident in DEVICES {
            for device in literal::nested_blocks(body, ident) {
                match device_encrypted(cx, t, ident, device) {
                    Ok(true) => {}
                    Ok(false) => bad.push(format!("`{ident}`")),
                    Err(a) => return Check::Undecidable(a),
                }
            }
        }
        if bad.is_empty() { Check::Compliant } else { Check::Violation(format!("{} not encrypted", bad.join(", "))) }
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        Fix::Advice(volume_runbook(cx, t))
    }
}

fn device_encrypted(cx: &Context, t: &Target, ident: &str, device: NestedBlock) -> Result<bool, Advice> {
    // A dynamic block is judged by its `content`, which must say `encrypted = true` literally.
    let Some(body) = device.content() else {
        return Err(dynamic_advice(cx, t, ident, "`encrypted = true`"));
    };
    match literal::attr_bool(body, "encrypted") {
        Some(Ok(v)) => Ok(v),
        None => Ok(false),
        Some(Err(nl)) => Err(not_literal_advice(cx, t, &format!("{ident}.encrypted"), &nl, "`true`")),
    }
}

fn volume_runbook(cx: &Context, t: &Target) -> Advice {
    let r = cx.index.resource(t.resource);
    let (key_arg, set_key) = match cx.params.get("kmsId") {
        Some(k) => (format!(" --kms-key-id {k}"), format!(" and `kms_key_id = {}`", edit::quote(k))),
        None => (String::new(), String::new()),
    };
    let (what, set_where) = if r.rtype == "aws_instance" {
        ("each unencrypted volume of the instance", "on its `root_block_device` / `ebs_block_device` blocks ")
    } else {
        ("the volume", "")
    };
    Advice::new(
        format!("`encrypted` forces replacement: applying it would replace `{}` and lose the data on the volume", r.local_address()),
        [
            format!("Snapshot {what}: `aws ec2 create-snapshot --volume-id <vol-id>`."),
            format!("Copy the snapshot encrypted: `aws ec2 copy-snapshot --source-snapshot-id <snap-id> --source-region <region> --encrypted{key_arg}`."),
            "Create a new volume from the encrypted copy in the same Availability Zone, stop the instance, detach the old volume, attach the new one at the same device name and start the instance.".to_owned(),
            format!("In {}, set `encrypted = true`{set_key} {set_where}and move the Terraform state to the new volume (`terraform state rm` + `import`) so Terraform does not replace it again.", where_is(cx, t.resource)),
            format!("Turn on EBS encryption by default in every region so new volumes are encrypted: `{}` in the account-baseline root module.", BY_DEFAULT_SNIPPET.replace("\n  ", " ").replace('\n', " ")),
        ],
    )
}

/// EC2_EBS_ENCRYPTION_BY_DEFAULT: `aws_ebs_encryption_by_default { enabled = true }` (the default).
pub struct EbsEncryptionByDefault;

static BY_DEFAULT: RuleMeta = RuleMeta {
    identifier: "EC2_EBS_ENCRYPTION_BY_DEFAULT",
    name: "ec2-ebs-encryption-by-default",
    aliases: &[],
    security_controls: &["EC2.7"],
    config_types: &["AWS::::Account"],
    terraform_types: &["aws_ebs_encryption_by_default"],
    risk: Risk::Low,
    remedy: RemedyKind::Fix,
    title: "enable EBS encryption by default",
    explanation: "With encryption by default, every new EBS volume and snapshot copy in the region is encrypted, whatever the code creating it says. Existing volumes are not changed, and launches only fail for the rare instance types that do not support encrypted volumes.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/ec2-ebs-encryption-by-default.html",
    checkov: &["CKV_AWS_106"],
    params: &[],
};

impl Rule for EbsEncryptionByDefault {
    fn meta(&self) -> &'static RuleMeta {
        &BY_DEFAULT
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        bool_check(cx, t, "enabled", true, true)
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        set_attribute(cx, t, "enabled", "true")
    }

    fn when_missing(&self, _cx: &Context) -> Option<Advice> {
        Some(Advice::new(
            "no `aws_ebs_encryption_by_default` resource manages this account setting",
            [
                format!(
                    "Add this to the account-baseline root module, once per region (one per `aws` provider alias):\n{BY_DEFAULT_SNIPPET}"
                ),
                "Then apply it in every region the account uses; existing volumes are not changed.".to_owned(),
            ],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::{fixed, run};
    use crate::policy::Policy;

    const INSTANCE: &str = r#"# Bastion host
resource "aws_instance" "bastion" {
  ami           = data.aws_ami.al2023.id
  instance_type = "t3.micro" # cheap
}
"#;

    const TEMPLATE: &str = r#"resource "aws_launch_template" "web" {
  name_prefix = "web-"

  metadata_options {
    http_endpoint               = "enabled"
    http_put_response_hop_limit = 2 # containers
  }
}
"#;

    const VOLUME: &str = r#"# Data disk
resource "aws_ebs_volume" "data" {
  availability_zone = "eu-west-1a"
  size              = 100 # GiB
}
"#;

    fn before(rule: &dyn Rule, src: &str, address: &str) -> Check {
        run(rule, &[("main.tf", src)], address, &[], &Policy::default()).before
    }

    #[test]
    fn imdsv2_adds_the_block() {
        let out = fixed(&Imdsv2, &[("main.tf", INSTANCE)], "aws_instance.bastion", "main.tf");
        assert_eq!(
            out,
            INSTANCE.replace(
                "# cheap\n}",
                "# cheap\n\n  metadata_options {\n    http_endpoint = \"enabled\"\n    http_tokens   = \"required\"\n  }\n}"
            )
        );
    }

    #[test]
    fn imdsv2_inserts_tokens_in_an_existing_block() {
        let out = fixed(&Imdsv2, &[("main.tf", TEMPLATE)], "aws_launch_template.web", "main.tf");
        assert_eq!(
            out,
            TEMPLATE
                .replace("= 2 # containers\n", "= 2 # containers\n    http_tokens                 = \"required\"\n")
        );
        let r = run(&Imdsv2, &[("main.tf", TEMPLATE)], "aws_launch_template.web", &[], &Policy::default());
        let Some(Fix::Edits { notes, .. }) = &r.fix else { panic!("{r:?}") };
        assert!(notes[1].contains("instance refresh"), "{notes:?}");
    }

    #[test]
    fn imdsv2_replaces_optional() {
        let src = TEMPLATE
            .replace("= 2 # containers\n", "= 2 # containers\n    http_tokens                 = \"optional\"\n");
        let out = fixed(&Imdsv2, &[("main.tf", &src)], "aws_launch_template.web", "main.tf");
        assert_eq!(out, src.replace("\"optional\"", "\"required\""));
    }

    #[test]
    fn imdsv2_required_or_disabled_is_compliant() {
        let required = TEMPLATE.replace("= 2 # containers\n", "= 2\n    http_tokens                 = \"required\"\n");
        assert_eq!(before(&Imdsv2, &required, "aws_launch_template.web"), Check::Compliant);
        let disabled = TEMPLATE.replace("\"enabled\"", "\"disabled\"");
        assert_eq!(before(&Imdsv2, &disabled, "aws_launch_template.web"), Check::Compliant);
    }

    #[test]
    fn imdsv2_from_a_variable_or_dynamic_block_is_advice() {
        let src = TEMPLATE.replace("= 2 # containers\n", "= 2\n    http_tokens                 = var.tokens\n");
        let r = run(&Imdsv2, &[("main.tf", &src)], "aws_launch_template.web", &[], &Policy::default());
        assert!(r.advice().steps[0].contains("main.tf:7"), "{r:?}");
        let dynamic = INSTANCE.replace(
            "# cheap\n",
            "# cheap\n  dynamic \"metadata_options\" {\n    for_each = var.imds\n    content {\n      http_tokens = metadata_options.value\n    }\n  }\n",
        );
        let r = run(&Imdsv2, &[("main.tf", &dynamic)], "aws_instance.bastion", &[], &Policy::default());
        assert!(r.advice().reason.contains("dynamic block"), "{r:?}");
    }

    #[test]
    fn an_unencrypted_volume_is_a_runbook() {
        let src = VOLUME.replace("  size ", "  encrypted         = false\n  size ");
        let r = run(
            &EncryptedVolumes,
            &[("main.tf", &src)],
            "aws_ebs_volume.data",
            &[("kmsId", "alias/ebs")],
            &Policy::default(),
        );
        assert!(matches!(r.before, Check::Violation(_)), "{r:?}");
        let advice = r.advice();
        assert!(advice.reason.contains("forces replacement"), "{advice:?}");
        assert!(advice.steps[1].contains("--encrypted --kms-key-id alias/ebs"), "{advice:?}");
        assert!(
            advice.steps[3].contains("In main.tf:2, set `encrypted = true` and `kms_key_id = \"alias/ebs\"`"),
            "{advice:?}"
        );
        assert!(advice.steps[4].contains("aws_ebs_encryption_by_default"), "{advice:?}");
        assert!(r.changed.is_empty());
    }

    #[test]
    fn volumes_and_instance_devices_are_judged() {
        let encrypted = VOLUME.replace("  size ", "  encrypted         = true\n  size ");
        assert_eq!(before(&EncryptedVolumes, &encrypted, "aws_ebs_volume.data"), Check::Compliant);
        assert!(matches!(before(&EncryptedVolumes, VOLUME, "aws_ebs_volume.data"), Check::Violation(_)));
        let root = "  root_block_device {\n    encrypted = true\n  }\n";
        let ok = INSTANCE.replace("# cheap\n", &format!("# cheap\n{root}"));
        assert_eq!(before(&EncryptedVolumes, &ok, "aws_instance.bastion"), Check::Compliant);
        let data = "  ebs_block_device {\n    device_name = \"/dev/sdf\"\n  }\n";
        let bad = INSTANCE.replace("# cheap\n", &format!("# cheap\n{root}{data}"));
        assert_eq!(
            before(&EncryptedVolumes, &bad, "aws_instance.bastion"),
            Check::Violation("`ebs_block_device` not encrypted".into())
        );
    }

    #[test]
    fn encryption_by_default_flips_false() {
        let src = "# Account baseline\nresource \"aws_ebs_encryption_by_default\" \"this\" {\n  enabled = false # see ticket\n}\n";
        let out = fixed(&EbsEncryptionByDefault, &[("main.tf", src)], "aws_ebs_encryption_by_default.this", "main.tf");
        assert_eq!(out, src.replace("= false", "= true"));
    }

    #[test]
    fn encryption_by_default_absent_argument_is_compliant() {
        let src = "resource \"aws_ebs_encryption_by_default\" \"this\" {}\n";
        assert_eq!(before(&EbsEncryptionByDefault, src, "aws_ebs_encryption_by_default.this"), Check::Compliant);
    }

    #[test]
    fn encryption_by_default_missing_or_variable_is_advice() {
        let src = "resource \"aws_ebs_encryption_by_default\" \"this\" {\n  enabled = var.ebs_default\n}\n";
        let r = run(
            &EbsEncryptionByDefault,
            &[("main.tf", src)],
            "aws_ebs_encryption_by_default.this",
            &[],
            &Policy::default(),
        );
        assert!(r.advice().reason.contains("input variable"), "{r:?}");
        let ws = crate::terraform::workspace::Workspace::from_sources([]);
        let index = crate::terraform::index::Index::build(&ws);
        let (params, policy) = (super::super::Params::default(), Policy::default());
        let cx = Context { ws: &ws, index: &index, params: &params, policy: &policy };
        let advice = EbsEncryptionByDefault.when_missing(&cx).expect("advice");
        assert!(
            advice.steps[0].contains("resource \"aws_ebs_encryption_by_default\" \"this\" {\n  enabled = true\n}"),
            "{advice:?}"
        );
    }
}
