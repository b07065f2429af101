//! Porteiro's AWS IAM policy engine.
//!
//! A pure library (no I/O, no clock, no async) that parses AWS JSON policies with precise
//! errors, evaluates requests with AWS's full logic (identity, resource, permissions
//! boundary, session policy, SCP and RCP layers; same- and cross-account rules; role trust
//! policies; the KMS key-policy rule), models forward access sessions, and explains every
//! decision.
//!
//! ```
//! use porteiro_iam::{Authorizer, Context, Decision, Layers, Policy, PolicyKind, Principal, Request};
//!
//! let identity = [Policy::parse(
//!     r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
//!         "Resource": "arn:aws:s3:::reports/${aws:username}/*"}}"#,
//!     PolicyKind::Identity,
//! )?];
//! let principal = Principal::parse("arn:aws:iam::111122223333:user/alice")?;
//! let request = Request::new(principal, "s3:GetObject", "arn:aws:s3:::reports/alice/q3.csv",
//!     Some("111122223333"), Context::new());
//! let layers = Layers { identity: &identity, ..Layers::default() };
//! assert_eq!(Authorizer::new().authorize(&request, &layers), Decision::Allowed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Scenario files (`porteiro policy simulate`) are read by [`scenario`].

mod authorize;
mod condition;
mod json;
mod pattern;
mod policy;
mod request;
pub mod scenario;
mod suggest;
mod values;

pub use authorize::{
    Authorizer, ConditionTrace, Decision, DeniedBy, Evaluation, Explanation, Grant, Layer, Layers, Options,
    StatementResult, StatementTrace, Why,
};
pub use condition::MultiValuedPlain;
pub use policy::{Effect, Policy, PolicyError, PolicyKind, PolicyWarning};
pub use request::{Context, Principal, PrincipalError, PrincipalKind, Request, Value};
