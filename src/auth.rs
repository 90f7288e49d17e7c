//! Credentials: webhook secrets, EventBridge keys and API tokens, compared in constant time against
//! every configured secret (a list, so secrets can be rotated without downtime). Secrets stay in
//! `SecretString` and never reach logs or error bodies.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `candidate` equals one of `secrets`. Both sides are hashed first, so neither the time
/// taken nor the length compared says which secret (if any) matched; empty secrets never match.
pub fn matches_any(candidate: &[u8], secrets: &[SecretString]) -> bool {
    let want = Sha256::digest(candidate);
    secrets
        .iter()
        .fold(subtle::Choice::from(0), |found, s| {
            let s = s.expose_secret();
            let nonempty = subtle::Choice::from(u8::from(!s.is_empty()));
            found | (Sha256::digest(s.as_bytes()).as_slice().ct_eq(want.as_slice()) & nonempty)
        })
        .into()
}

/// The `user:password` of an `Authorization: Basic …` header value.
pub fn basic_credentials(header: &str) -> Option<Vec<u8>> {
    let (scheme, b64) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()
}

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Verify GitHub's `X-Hub-Signature-256: sha256=<hex>` over the raw body against every secret.
pub fn github_signature_valid(body: &[u8], header: &str, secrets: &[SecretString]) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else { return false };
    let Some(given) = decode_hex(hex) else { return false };
    secrets.iter().fold(false, |ok, secret| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) else { return ok };
        mac.update(body);
        // `verify_slice` compares in constant time; every secret is tried.
        mac.verify_slice(&given).is_ok() | ok
    })
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &[&str]) -> Vec<SecretString> {
        list.iter().map(|s| SecretString::from(s.to_string())).collect()
    }

    #[test]
    fn any_of_several_rotated_secrets_matches() {
        let s = secrets(&["old-key", "new-key"]);
        assert!(matches_any(b"old-key", &s));
        assert!(matches_any(b"new-key", &s));
        assert!(!matches_any(b"new-ke", &s));
        assert!(!matches_any(b"", &s));
        assert!(!matches_any(b"new-key", &[]));
        assert!(!matches_any(b"", &secrets(&["", "x"])), "an empty secret never matches");
    }

    #[test]
    fn authorization_headers_parse() {
        assert_eq!(basic_credentials("Basic dXNlcjpwYXNz").as_deref(), Some(&b"user:pass"[..]));
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
    }

    #[test]
    fn github_signatures_verify_against_any_secret() {
        // HMAC-SHA256("It's a Secret to Everybody", "Hello, World!") from GitHub's documentation.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let s = secrets(&["rotated-out", "It's a Secret to Everybody"]);
        assert!(github_signature_valid(b"Hello, World!", header, &s));
        assert!(!github_signature_valid(b"Hello, World?", header, &s));
        assert!(!github_signature_valid(b"Hello, World!", "sha1=abc", &s));
        assert!(!github_signature_valid(b"Hello, World!", "sha256=zz", &s));
        assert!(!github_signature_valid(b"Hello, World!", header, &secrets(&["wrong"])));
    }
}
