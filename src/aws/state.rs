//! Terraform state kept in S3 (`state = "s3://bucket/key"` on a route), read with the route's
//! credentials and cached by ETag: every job asks `GetObject` with `If-None-Match`, and an unchanged
//! state (304) costs no transfer and no re-parse upstream.
//!
//! driftfix is granted `s3:GetObject` only, not `s3:ListBucket`, so S3 answers a missing key with
//! `AccessDenied` rather than `NoSuchKey`; the error says both possibilities.

use super::{Aws, AwsError, Kind, Scope, lock};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Largest state file read (larger ones are refused, not truncated).
pub const MAX_STATE_BYTES: usize = 256 * 1024 * 1024;

/// `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
}

impl S3Location {
    /// Whether a route's state entry is meant as an S3 location.
    pub fn is_s3(p: &Path) -> bool {
        p.to_str().is_some_and(|s| s.starts_with("s3://"))
    }

    pub fn parse(p: &Path) -> Option<S3Location> {
        let (bucket, key) = p.to_str()?.strip_prefix("s3://")?.split_once('/')?;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        (bucket_ok && !key.is_empty()).then(|| S3Location { bucket: bucket.to_owned(), key: key.to_owned() })
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Who read which object: the same key under two roles may not be readable by both.
type CacheKey = (Option<String>, S3Location);
/// The ETag a text was read at.
type Cached = (String, Arc<String>);

/// State texts by (role, location), with the ETag they were read at.
#[derive(Debug, Default)]
pub struct StateCache {
    entries: Mutex<HashMap<CacheKey, Cached>>,
}

/// How a read went (for the audit and the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Downloaded (first read, or the object changed).
    Fetched,
    /// S3 answered 304: the cached text is current.
    Unchanged,
}

impl StateCache {
    /// The state text at `loc`, asked in `region` first: a bucket elsewhere answers with its own
    /// region (`x-amz-bucket-region`), which is then asked instead.
    pub async fn read_anywhere(
        &self,
        aws: &Aws,
        role: Option<&str>,
        region: &str,
        loc: &S3Location,
    ) -> Result<(Arc<String>, Read), AwsError> {
        match self.read(&aws.scope(role, region).await, role, loc).await {
            Err(Moved::To(actual, _)) if actual != region => {
                self.read(&aws.scope(role, &actual).await, role, loc).await.map_err(Moved::into_error)
            }
            other => other.map_err(Moved::into_error),
        }
    }

    /// The state text at `loc`, from the cache when S3 says it has not changed.
    async fn read(&self, scope: &Scope, role: Option<&str>, loc: &S3Location) -> Result<(Arc<String>, Read), Moved> {
        const OP: &str = "s3:GetObject";
        let cache_key = (role.map(str::to_owned), loc.clone());
        let cached = lock(&self.entries).get(&cache_key).cloned();
        let request = scope
            .s3
            .get_object()
            .bucket(&loc.bucket)
            .key(&loc.key)
            .set_if_none_match(cached.as_ref().map(|(etag, _)| etag.clone()));
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 304) => {
                if let Some((_, text)) = cached {
                    return Ok((text, Read::Unchanged));
                }
                return Err(Moved::Not(AwsError::new(OP, Kind::Other, format!("{loc}: 304 without a cached copy"))));
            }
            Err(e) => {
                let region = e
                    .raw_response()
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                    .map(str::to_owned)
                    .filter(|_| matches!(e.raw_response().map(|r| r.status().as_u16()), Some(301 | 400)));
                if let Some(region) = region {
                    return Err(Moved::To(region, AwsError::from_sdk(OP, e)));
                }
                let mut e = AwsError::from_sdk(OP, e);
                if matches!(e.kind, Kind::AccessDenied | Kind::NotFound) {
                    e.message = format!(
                        "{loc} does not exist, or driftfix may not read it (it needs s3:GetObject on the object)"
                    );
                }
                return Err(Moved::Not(e));
            }
        };
        if out.content_length().is_some_and(|n| usize::try_from(n).map_or(true, |n| n > MAX_STATE_BYTES)) {
            let e = AwsError::new(OP, Kind::Invalid, format!("{loc} is larger than {MAX_STATE_BYTES} bytes"));
            return Err(Moved::Not(e));
        }
        let etag = out.e_tag().map(str::to_owned);
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| {
                Moved::Not(AwsError::new(OP, Kind::Unavailable, format!("{loc}: reading the body failed: {e}")))
            })?
            .into_bytes();
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| Moved::Not(AwsError::new(OP, Kind::Invalid, format!("{loc} is not UTF-8 text"))))?;
        let text = Arc::new(text);
        if let Some(etag) = etag {
            lock(&self.entries).insert(cache_key, (etag, text.clone()));
        }
        Ok((text, Read::Fetched))
    }
}

/// A failed read, and whether S3 named the bucket's region.
enum Moved {
    To(String, AwsError),
    Not(AwsError),
}

impl Moved {
    fn into_error(self) -> AwsError {
        match self {
            Moved::To(_, e) | Moved::Not(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::S3Location;
    use std::path::Path;

    #[test]
    fn s3_locations_parse() {
        let l = S3Location::parse(Path::new("s3://acme-tf-state/prod/network.tfstate")).unwrap();
        assert_eq!((l.bucket.as_str(), l.key.as_str()), ("acme-tf-state", "prod/network.tfstate"));
        assert_eq!(l.to_string(), "s3://acme-tf-state/prod/network.tfstate");
        assert!(S3Location::is_s3(Path::new("s3://x")));
        assert_eq!(S3Location::parse(Path::new("s3://acme-tf-state/")), None);
        assert_eq!(S3Location::parse(Path::new("s3://Bad_Bucket/k")), None);
        assert_eq!(S3Location::parse(Path::new("state/prod.tfstate")), None);
    }
}
