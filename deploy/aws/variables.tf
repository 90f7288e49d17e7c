# --- Where driftfix is ---

variable "driftfix_url" {
  description = "driftfix's public HTTPS base URL, e.g. https://driftfix.example.com. EventBridge posts to <url>/webhooks/eventbridge, SNS to <url>/webhooks/sns."
  type        = string

  validation {
    condition     = can(regex("^https://[^/?#]+(/[^?#]*)?$", var.driftfix_url))
    error_message = "driftfix_url must be an https:// URL without query or fragment (EventBridge and SNS deliver only to publicly trusted HTTPS)."
  }
}

variable "region" {
  description = "The region to deploy in. AWS Config events are regional: deploy once per region you want covered."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every name this configuration creates."
  type        = string
  default     = "driftfix"

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,32}$", var.name_prefix))
    error_message = "name_prefix: 1 to 32 letters, digits or hyphens."
  }
}

variable "tags" {
  description = "Tags for every resource (provider default_tags)."
  type        = map(string)
  default     = {}
}

# --- Delivery: API destination (default) or SNS ---

variable "use_sns" {
  description = "Deliver through an encrypted SNS topic and an HTTPS subscription (sns.tf) instead of the API destination."
  type        = bool
  default     = false
}

variable "api_key" {
  description = "The API key EventBridge sends and driftfix accepts (one of intake.eventbridge.api_keys). Required unless use_sns. At least 32 characters, e.g. `openssl rand -hex 32`."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.api_key == null || try(length(var.api_key) >= 32, false)
    error_message = "api_key must be at least 32 characters."
  }
}

variable "api_key_header" {
  description = "The header the API key is sent in; must match intake.eventbridge.header."
  type        = string
  default     = "x-api-key"

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+$", var.api_key_header)) && lower(var.api_key_header) != "authorization"
    error_message = "api_key_header: a header name of letters, digits and hyphens (Authorization is for Basic auth)."
  }
}

variable "invocation_rate_limit_per_second" {
  description = "Most requests per second EventBridge sends to driftfix (1 to 300). Events above it wait and are retried."
  type        = number
  default     = 10

  validation {
    condition     = var.invocation_rate_limit_per_second >= 1 && var.invocation_rate_limit_per_second <= 300
    error_message = "invocation_rate_limit_per_second must be between 1 and 300."
  }
}

variable "retry_maximum_event_age_seconds" {
  description = "How long EventBridge keeps retrying an event (60 to 86400 seconds) before it goes to the dead-letter queue."
  type        = number
  default     = 86400

  validation {
    condition     = var.retry_maximum_event_age_seconds >= 60 && var.retry_maximum_event_age_seconds <= 86400
    error_message = "retry_maximum_event_age_seconds must be between 60 and 86400."
  }
}

variable "retry_maximum_attempts" {
  description = "How many times EventBridge retries an event (0 to 185) before it goes to the dead-letter queue."
  type        = number
  default     = 185

  validation {
    condition     = var.retry_maximum_attempts >= 0 && var.retry_maximum_attempts <= 185
    error_message = "retry_maximum_attempts must be between 0 and 185."
  }
}

# --- AWS Config ---

variable "create_recorder" {
  description = "Create a configuration recorder, its delivery channel and an S3 bucket. Leave false when the region already records (a region has at most one customer-managed recorder)."
  type        = bool
  default     = false
}

variable "record_global_resources" {
  description = "With create_recorder: also record global resources (IAM). Enable it in one region only."
  type        = bool
  default     = true
}

variable "config_bucket_name" {
  description = "With create_recorder: the name of the bucket created for Config deliveries (default: a generated <name_prefix>-config-… name)."
  type        = string
  default     = null
}

variable "access_log_bucket" {
  description = "With create_recorder (and then required): an existing bucket that receives the Config bucket's S3 server access logs under s3/<bucket>/. Its policy must let logging.s3.amazonaws.com write there."
  type        = string
  default     = null
}

variable "config_rules" {
  description = "AWS Config managed rules to deploy: rule name → source identifier (a catalog identifier, see `driftfix rules`) and optional InputParameters. Rules you already run elsewhere (conformance packs, Security Hub) reach driftfix anyway: the EventBridge rule takes every Config rule's findings."
  type = map(object({
    identifier                  = string
    input_parameters            = optional(map(string), {})
    maximum_execution_frequency = optional(string)
  }))
  default = {
    "restricted-ssh"                           = { identifier = "INCOMING_SSH_DISABLED" }
    "restricted-common-ports"                  = { identifier = "RESTRICTED_INCOMING_TRAFFIC" }
    "s3-bucket-versioning-enabled"             = { identifier = "S3_BUCKET_VERSIONING_ENABLED" }
    "s3-bucket-server-side-encryption-enabled" = { identifier = "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED" }
    "s3-bucket-level-public-access-prohibited" = { identifier = "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED" }
    "rds-instance-public-access-check"         = { identifier = "RDS_INSTANCE_PUBLIC_ACCESS_CHECK" }
    "dynamodb-pitr-enabled"                    = { identifier = "DYNAMODB_PITR_ENABLED" }
    "cmk-backing-key-rotation-enabled"         = { identifier = "CMK_BACKING_KEY_ROTATION_ENABLED" }
    "ec2-imdsv2-check"                         = { identifier = "EC2_IMDSV2_CHECK" }
  }
  # SQS encryption is not here: `sqs-queue-encrypted` is Security Hub's SQS.1 control, not a managed
  # rule a customer can deploy. Enable Security Hub's control to get those findings.
}

# --- The role driftfix runs as ---

variable "driftfix_principal_arns" {
  description = "IAM principals that may assume the driftfix role: the role driftfix's workload already has (ECS task role, EKS IRSA or Pod Identity role, EC2 instance role), or an account root ARN for another account."
  type        = list(string)

  validation {
    condition = length(var.driftfix_principal_arns) > 0 && alltrue([
      for a in var.driftfix_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/[^*]+|user/[^*]+)$", a))
    ])
    error_message = "driftfix_principal_arns: one or more IAM role, user or account-root ARNs, without wildcards."
  }
}

variable "state_object_arns" {
  description = "Terraform state objects driftfix may read, as S3 object ARNs: arn:aws:s3:::BUCKET/KEY (a route's state = \"s3://BUCKET/KEY\"). Empty: no S3 permission."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.state_object_arns : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+/.+$", a))])
    error_message = "state_object_arns: S3 object ARNs, arn:aws:s3:::BUCKET/KEY."
  }
}

variable "state_kms_key_arns" {
  description = "KMS keys encrypting those state objects (SSE-KMS). driftfix may decrypt with them only through S3. Empty: no KMS permission."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.state_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", a))])
    error_message = "state_kms_key_arns: KMS key ARNs (arn:aws:kms:REGION:ACCOUNT:key/ID), not aliases."
  }
}

variable "config_aggregator_arns" {
  description = "Config aggregators `driftfix sync` may list findings through (arn:aws:config:REGION:ACCOUNT:config-aggregator/config-aggregator-ID). Empty: no aggregator permission."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.config_aggregator_arns : can(regex("^arn:aws[a-z-]*:config:[a-z0-9-]+:[0-9]{12}:config-aggregator/[^*]+$", a))])
    error_message = "config_aggregator_arns: aggregator ARNs without wildcards."
  }
}

variable "route_role_arns" {
  description = "Roles in other accounts that driftfix routes assume (a route's role_arn). Each needs this same policy and a trust policy naming the driftfix role. Empty: no sts:AssumeRole permission."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.route_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[^*]+$", a))])
    error_message = "route_role_arns: IAM role ARNs without wildcards."
  }
}
