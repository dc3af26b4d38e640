//! HTTP serving.
