//! SSE-C emulation: a client that sends a customer key gets its object's DEK wrapped under
//! that key instead of a KEK. The gateway never stores the key (only the wrapped DEK, which
//! authenticates it), so such objects are readable by nobody without it — not even with the
//! gateway's KEKs. The key is never forwarded to the store.

use crate::keys::Kek;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use s3s::{S3Error, S3Result, s3_error};

/// The KEK id recorded for customer-key objects; reserved, no real KEK may use it.
pub const SSEC_ID: &str = "sse-c";

/// A validated customer key, zeroized on drop (it is a [`Kek`]).
pub struct CustomerKey {
    pub(super) key: Kek,
    /// base64 MD5 of the key, echoed to the client as S3 does.
    pub md5_b64: String,
}

/// Takes the three SSE-C fields out of a request (so they never reach the store) and checks
/// them as S3 does: algorithm AES256, a 256-bit key, and the key's MD5.
pub fn take(
    algorithm: &mut Option<String>,
    key: &mut Option<String>,
    key_md5: &mut Option<String>,
) -> S3Result<Option<CustomerKey>> {
    let (a, k, m) = (algorithm.take(), key.take(), key_md5.take());
    let (a, k) = match (a, k) {
        (None, None) if m.is_none() => return Ok(None),
        (Some(a), Some(k)) => (a, zeroize::Zeroizing::new(k)),
        _ => {
            return Err(invalid(
                "Requests specifying Server Side Encryption with Customer provided keys must provide both the algorithm and the key.",
            ));
        }
    };
    if a != "AES256" {
        return Err(invalid(
            "The encryption algorithm must be AES256 for customer-provided keys.",
        ));
    }
    let raw = zeroize::Zeroizing::new(
        STANDARD
            .decode(k.as_bytes())
            .map_err(|_| invalid("The secret key was invalid for the specified algorithm."))?,
    );
    let bytes: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| invalid("The secret key was invalid for the specified algorithm."))?;
    let md5 = STANDARD.encode(Md5::digest(bytes));
    if let Some(m) = m {
        use subtle::ConstantTimeEq;
        if !bool::from(m.as_bytes().ct_eq(md5.as_bytes())) {
            return Err(invalid(
                "The calculated MD5 hash of the key did not match the hash that was provided.",
            ));
        }
    }
    let key = Kek::from_bytes(bytes);
    let mut b = bytes;
    zeroize::Zeroize::zeroize(&mut b);
    Ok(Some(CustomerKey { key, md5_b64: md5 }))
}

fn invalid(msg: &'static str) -> S3Error {
    S3Error::with_message(s3s::S3ErrorCode::InvalidRequest, msg)
}

/// A customer-key object read without the key.
pub fn key_required() -> S3Error {
    invalid(
        "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
    )
}

/// A customer key sent for an object that does not use one.
pub fn not_applicable() -> S3Error {
    invalid("The encryption parameters are not applicable to this object.")
}

/// The customer key does not open the object's DEK.
pub fn wrong_key() -> S3Error {
    s3_error!(
        AccessDenied,
        "The provided customer key does not match the key the object was stored with."
    )
}

/// A customer key sent for an object stored without one (plaintext/legacy).
pub fn plain_object(c: Option<&CustomerKey>) -> S3Result<()> {
    match c {
        Some(_) => Err(not_applicable()),
        None => Ok(()),
    }
}
