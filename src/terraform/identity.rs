//! How a Config resource is recognised in Terraform: which resource types can define it, which
//! state attributes hold the Config `resourceId` (FORMATS.md §6), and which literal arguments in the
//! code identify it when no state is available.

/// Identity facts for one Config resource type.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub config_type: &'static str,
    /// Terraform resource types that define the resource itself.
    pub terraform_types: &'static [&'static str],
    /// State attributes compared with the Config `resourceId` (first match wins).
    pub state_id_attrs: &'static [&'static str],
    /// State attributes compared with the Config `resourceName`.
    pub state_name_attrs: &'static [&'static str],
    /// Literal arguments in code compared with the resource's name (no-state fallback).
    pub code_name_attrs: &'static [&'static str],
}

const IDENTITIES: &[Identity] = &[
    Identity {
        config_type: "AWS::S3::Bucket",
        terraform_types: &["aws_s3_bucket"],
        state_id_attrs: &["id", "bucket"],
        state_name_attrs: &["bucket"],
        code_name_attrs: &["bucket"],
    },
    Identity {
        config_type: "AWS::EC2::SecurityGroup",
        terraform_types: &["aws_security_group", "aws_default_security_group"],
        state_id_attrs: &["id"],
        state_name_attrs: &["name"],
        code_name_attrs: &["name"],
    },
    Identity {
        config_type: "AWS::SQS::Queue",
        terraform_types: &["aws_sqs_queue"],
        state_id_attrs: &["id", "url"],
        state_name_attrs: &["name"],
        code_name_attrs: &["name"],
    },
    Identity {
        config_type: "AWS::RDS::DBInstance",
        // Provider ≥ 5.0: `id` is the DbiResourceId; before, `resource_id` only.
        terraform_types: &["aws_db_instance"],
        state_id_attrs: &["resource_id", "id"],
        state_name_attrs: &["identifier"],
        code_name_attrs: &["identifier"],
    },
    Identity {
        config_type: "AWS::DynamoDB::Table",
        terraform_types: &["aws_dynamodb_table"],
        state_id_attrs: &["id", "name"],
        state_name_attrs: &["name"],
        code_name_attrs: &["name"],
    },
    Identity {
        config_type: "AWS::KMS::Key",
        terraform_types: &["aws_kms_key"],
        state_id_attrs: &["key_id", "id"],
        state_name_attrs: &[],
        code_name_attrs: &[],
    },
    Identity {
        config_type: "AWS::CloudTrail::Trail",
        // Since provider 5.25 `id` is the ARN: match `name` (and `arn`, checked for every type).
        terraform_types: &["aws_cloudtrail"],
        state_id_attrs: &["name", "id"],
        state_name_attrs: &["name"],
        code_name_attrs: &["name"],
    },
    Identity {
        config_type: "AWS::EC2::Instance",
        terraform_types: &["aws_instance"],
        state_id_attrs: &["id"],
        state_name_attrs: &[],
        code_name_attrs: &[],
    },
    Identity {
        config_type: "AWS::EC2::LaunchTemplate",
        terraform_types: &["aws_launch_template"],
        state_id_attrs: &["id"],
        state_name_attrs: &["name"],
        code_name_attrs: &["name"],
    },
    Identity {
        config_type: "AWS::EC2::Volume",
        terraform_types: &["aws_ebs_volume"],
        state_id_attrs: &["id"],
        state_name_attrs: &[],
        code_name_attrs: &[],
    },
    Identity {
        config_type: "AWS::IAM::Role",
        terraform_types: &["aws_iam_role"],
        state_id_attrs: &["unique_id"],
        state_name_attrs: &["name"],
        code_name_attrs: &["name"],
    },
    Identity {
        config_type: "AWS::IAM::User",
        terraform_types: &["aws_iam_user"],
        state_id_attrs: &["unique_id"],
        state_name_attrs: &["name"],
        code_name_attrs: &["name"],
    },
    Identity {
        config_type: "AWS::Lambda::Function",
        terraform_types: &["aws_lambda_function"],
        state_id_attrs: &["function_name", "id"],
        state_name_attrs: &["function_name"],
        code_name_attrs: &["function_name"],
    },
    Identity {
        config_type: "AWS::SNS::Topic",
        terraform_types: &["aws_sns_topic"],
        state_id_attrs: &["arn", "id"],
        state_name_attrs: &["name"],
        code_name_attrs: &["name"],
    },
    Identity {
        config_type: "AWS::::Account",
        // Account-level settings: the resource is the setting itself.
        terraform_types: &["aws_ebs_encryption_by_default", "aws_s3_account_public_access_block"],
        state_id_attrs: &[],
        state_name_attrs: &[],
        code_name_attrs: &[],
    },
];

/// Identity facts for a Config resource type.
pub fn identity(config_type: &str) -> Option<&'static Identity> {
    IDENTITIES.iter().find(|i| i.config_type == config_type)
}

/// The Config resource type defined by a Terraform resource type.
pub fn config_type_of(terraform_type: &str) -> Option<&'static str> {
    IDENTITIES.iter().find(|i| i.terraform_types.contains(&terraform_type)).map(|i| i.config_type)
}
