//! Porteiro's session gateways: every remote session goes through Porteiro, is recorded, and
//! is cut at its expiry or drop.
//!
//! - [`recorder`]: the recording service both gateways use. It owns the recordings store
//!   (`DATA_DIR/recordings`), the ed25519 key kept sealed in the access manager's vault, and
//!   one open [`porteiro_recording::SessionWriter`] per running session; it closes interrupted
//!   recordings at start-up and ends a session's recording when the manager ends or drops it.
//! - [`api`]: the API gateway for JIT sessions. Unmodified AWS clients (aws CLI, boto3, the
//!   AWS SDK for Rust) sign with the session's gateway credentials; the gateway checks their
//!   SigV4, re-signs with the session's STS credentials (which stay server-side), forwards to
//!   the account's endpoint, streams the answer back and records each call.
//! - [`console`]: the console gateway (`/sessions/ID/...`): Cloud console and JIT console
//!   sessions signed in on the person's behalf, proxied, recorded, cut at expiry or drop.
//!
//! See `docs/gateway.md`.

pub mod api;
pub mod console;
pub mod recorder;
