//! Home of the embedded cloud's load generator, `benches/load.rs`:
//! `cargo bench -p porteiro-loadgen --bench load [-- --endpoint URL ...]`.
//! See `docs/benchmarks.md`.
