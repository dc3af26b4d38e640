//! The body of every error response.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code: `invalid_request`, `invalid_filter`, `unauthorized`, `forbidden`,
    /// `not_found`, `method_not_allowed`, `conflict`, `ambiguous`, `payload_too_large`,
    /// `unavailable`, `internal`.
    #[schema(example = "not_found")]
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// For `invalid_filter`: the 1-based column of the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}
