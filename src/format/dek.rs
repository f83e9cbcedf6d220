//! The per-object data key. Kept in its own file because every layer touches it and it must
//! be impossible to print or leak: no `Debug`, no `Display`, no `Clone` into plain arrays,
//! zeroized on drop.

use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a data-encryption key in bytes (AES-256).
pub const DEK_LEN: usize = 32;

/// A 256-bit data-encryption key (DEK). One per object.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Dek([u8; DEK_LEN]);

impl Dek {
    /// A fresh key from the OS RNG.
    pub fn generate() -> Self {
        let mut k = [0u8; DEK_LEN];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Dek(k)
    }

    /// Wraps raw key bytes (e.g. just unwrapped); the caller should zeroize its copy.
    pub fn from_bytes(bytes: [u8; DEK_LEN]) -> Self {
        Dek(bytes)
    }

    /// The raw key, for the AEAD and the key wrap only.
    pub fn expose(&self) -> &[u8; DEK_LEN] {
        &self.0
    }

    /// An explicit copy; `Clone` is not derived so copies are visible in review.
    pub fn duplicate(&self) -> Self {
        Dek(self.0)
    }
}
