//! Porteiro's access manager: the Cloud IAM module of the seed.
//!
//! Platform users, access groups and their permissions, cloud accounts, cloud IAM users
//! (created through Porteiro, or imported), credentials, JIT settings, console and JIT
//! sessions, automatic disconnection with revocation in the cloud, and an audit trail.
//!
//! Layout (ports and adapters): [`rules`] holds the seed's rules as pure functions;
//! [`manager`] the use cases over three ports — [`store::Store`] (SQLite adapter
//! [`store::SqliteStore`], PostgreSQL adapter `postgres_store::PostgresStore`), [`connector::CloudConnector`] (AWS SDK for Rust adapter
//! [`connector::AwsConnector`]) and [`clock::Clock`] — plus the [`vault::Vault`]; [`api`] is the
//! REST adapter at the edge.

pub mod api;
pub mod clock;
pub mod connector;
pub mod gateway;
pub mod manager;
pub mod model;
#[cfg(feature = "postgres")]
pub mod postgres_store;
pub mod rules;
pub mod store;
pub mod vault;

pub use manager::{Actor, Error, Manager};
