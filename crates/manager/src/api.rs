//! REST API (to come).
