//! One error type for every AWS call, classified by what the caller should do about it.
//!
//! The SDK already retried throttling and transient failures (`[aws] max_attempts`) before an error
//! reaches here, so a [`Kind::Throttled`] or [`Kind::Unavailable`] error means "try the job again
//! later", and everything else means "this will not fix itself": expired or missing credentials, a
//! denied permission, a rule or resource that does not exist. Messages name the call and AWS's error
//! code, never request contents or credentials.

use aws_sdk_config::error::{ProvideErrorMetadata, SdkError};
use std::fmt;

/// What went wrong, as far as the caller's next step is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Rate limited even after the SDK's retries.
    Throttled,
    /// Credentials missing, expired or not accepted.
    Credentials,
    /// The credentials are fine but lack a permission.
    AccessDenied,
    /// The rule, resource, aggregator, bucket or object does not exist.
    NotFound,
    /// The request was refused as invalid.
    Invalid,
    /// Timeout, connection failure or a 5xx answer.
    Unavailable,
    Other,
}

/// A failed AWS call.
#[derive(Debug, Clone)]
pub struct AwsError {
    /// The operation, e.g. `config:DescribeConfigRules`.
    pub operation: &'static str,
    pub kind: Kind,
    /// AWS's error code when the service answered one.
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            Kind::Throttled => "throttled",
            Kind::Credentials => "AWS credentials were refused or have expired",
            Kind::AccessDenied => "access denied",
            Kind::NotFound => "not found",
            Kind::Invalid => "invalid request",
            Kind::Unavailable => "AWS unavailable",
            Kind::Other => "failed",
        };
        write!(f, "{}: {what}", self.operation)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {}

impl AwsError {
    pub fn new(operation: &'static str, kind: Kind, message: impl Into<String>) -> AwsError {
        AwsError { operation, kind, code: None, message: message.into() }
    }

    /// Worth trying again later (the job is retried with backoff).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, Kind::Throttled | Kind::Unavailable)
    }

    /// Classify an SDK error of any AWS client.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug,
    {
        match &err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                let code = e.code().map(str::to_owned);
                let message = e.message().unwrap_or_default().chars().take(300).collect();
                let kind = code.as_deref().map_or(Kind::Other, kind_of_code);
                AwsError { operation, kind, code, message }
            }
            SdkError::TimeoutError(_) => AwsError::new(operation, Kind::Unavailable, "the call timed out"),
            SdkError::DispatchFailure(d) if d.is_timeout() || d.is_io() => {
                AwsError::new(operation, Kind::Unavailable, source_chain(&err))
            }
            SdkError::ResponseError(_) => AwsError::new(operation, Kind::Unavailable, source_chain(&err)),
            _ => {
                // No service answer: a credentials provider that failed says so in its message.
                let message = source_chain(&err);
                let kind =
                    if message.to_ascii_lowercase().contains("credential") { Kind::Credentials } else { Kind::Other };
                AwsError::new(operation, kind, message)
            }
        }
    }
}

/// AWS error codes by what they mean to driftfix (Config, CloudTrail, S3 and STS spellings).
fn kind_of_code(code: &str) -> Kind {
    match code {
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "SlowDown"
        | "LimitExceededException" => Kind::Throttled,
        "ExpiredTokenException"
        | "ExpiredToken"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "IncompleteSignatureException"
        | "MissingAuthenticationToken"
        | "MissingAuthenticationTokenException"
        | "InvalidToken" => Kind::Credentials,
        "AccessDenied" | "AccessDeniedException" | "OperationNotPermittedException" => Kind::AccessDenied,
        "NoSuchConfigRuleException"
        | "ResourceNotDiscoveredException"
        | "NoSuchKey"
        | "NoSuchBucket"
        | "NoSuchConfigurationAggregatorException"
        | "NotFound" => Kind::NotFound,
        "ValidationException"
        | "InvalidParameterValueException"
        | "InvalidNextTokenException"
        | "InvalidLimitException"
        | "InvalidTimeRangeException"
        | "InvalidLookupAttributesException"
        | "SerializationException" => Kind::Invalid,
        "InternalFailure" | "InternalError" | "ServiceUnavailable" | "ServiceUnavailableException" => Kind::Unavailable,
        _ => Kind::Other,
    }
}

/// The error and its sources on one line (the SDK's top-level message alone is often "dispatch failure").
fn source_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        let s = e.to_string();
        if !parts.contains(&s) {
            parts.push(s);
        }
        next = e.source();
    }
    parts.join(": ").chars().take(400).collect()
}

#[cfg(test)]
mod tests {
    use super::{Kind, kind_of_code};

    #[test]
    fn codes_are_classified_by_what_the_caller_does_next() {
        assert_eq!(kind_of_code("ThrottlingException"), Kind::Throttled);
        assert_eq!(kind_of_code("ExpiredTokenException"), Kind::Credentials);
        assert_eq!(kind_of_code("AccessDeniedException"), Kind::AccessDenied);
        assert_eq!(kind_of_code("NoSuchConfigRuleException"), Kind::NotFound);
        assert_eq!(kind_of_code("ResourceNotDiscoveredException"), Kind::NotFound);
        assert_eq!(kind_of_code("ValidationException"), Kind::Invalid);
        assert_eq!(kind_of_code("SomethingNew"), Kind::Other);
    }
}
