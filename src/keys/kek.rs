//! A key-encryption key: 256 bits, never printed, zeroized on drop.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub const KEK_LEN: usize = 32;

#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Kek([u8; KEK_LEN]);

impl Kek {
    pub fn generate() -> Self {
        let mut k = [0u8; KEK_LEN];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Kek(k)
    }

    pub fn from_bytes(bytes: [u8; KEK_LEN]) -> Self {
        Kek(bytes)
    }

    /// Parses standard base64 of exactly 32 bytes; the error says what was wrong, not the value.
    pub fn from_base64(s: &str) -> Result<Self, String> {
        let raw = Zeroizing::new(
            STANDARD
                .decode(s.trim())
                .map_err(|_| "is not valid base64".to_owned())?,
        );
        let bytes: [u8; KEK_LEN] = raw
            .as_slice()
            .try_into()
            .map_err(|_| format!("must decode to {KEK_LEN} bytes, got {}", raw.len()))?;
        Ok(Kek(bytes))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0))
    }

    pub fn expose(&self) -> &[u8; KEK_LEN] {
        &self.0
    }
}
