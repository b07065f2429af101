//! The API gateway for JIT sessions (see `docs/gateway.md`).
