//! `X-Acs-Signature`: proof for the receiver that a body comes from this ACS and was not
//! changed, the way GitHub and Stripe sign their webhooks.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// The header carrying [`signature`].
pub const SIGNATURE_HEADER: &str = "X-Acs-Signature";

/// `sha256=<hex HMAC-SHA256 of body keyed by secret>`. A receiver computes the same over the
/// raw body it got and compares in constant time.
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
