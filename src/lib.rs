//! driftfix: remediation-as-code. An AWS Config finding and a Terraform tree go in; one outcome comes
//! out: a minimal, proven edit (`fix`), or an explanation of what a human must change (`advice`), or
//! `drift-only`, `no-match`, `unsupported`.
//!
//! The crate map, in the direction dependencies flow (the core never imports an adapter):
//! - [`finding`]: every AWS payload shape → [`finding::Finding`].
//! - [`terraform`]: the workspace (format-preserving parse), index, state, locate, edits.
//! - [`catalog`]: one [`catalog::Rule`] per Config rule, one file per AWS service.
//! - [`policy`]: the organisation's choices (allowed CIDRs, encryption algorithm, log bucket).
//! - [`remediate`]: the pure core, `Finding + Workspace + state + policy → Outcome`.
//! - [`scan`]: the same catalog over a whole tree, as a pre-merge gate (text, JSON, SARIF).
//! - [`render`]: PR title/body/branch from `templates/`, unified diffs.
//! - [`github`]: the GitHub App: code at the default branch head, the finding's pull request.
//! - [`jira`]: the Jira adapter: one ticket per finding (Cloud v3 with ADF, Data Center v2 with wiki markup).
//! - [`aws`]: AWS Config, CloudTrail, S3 and STS: enrichment, compliance, re-evaluation, state in S3.
//! - [`sync`]: reconciliation with AWS Config (`driftfix sync`, `serve`'s interval).

pub mod api;
pub mod auth;
pub mod aws;
pub mod catalog;
pub mod config;
pub mod diff;
pub mod finding;
pub mod github;
pub mod intake;
pub mod jira;
pub mod metrics;
pub mod ops;
pub mod policy;
pub mod remediate;
pub mod render;
pub mod sarif;
pub mod scan;
pub mod server;
pub mod store;
pub mod sync;
pub mod terraform;
pub mod worker;
