//! KEKs from the environment: `S3SEAL_KEK_<ID>=base64`, `S3SEAL_KEK_ACTIVE=<id>`. Suits
//! containers whose orchestrator injects secrets as variables.

use super::{Kek, KeyError, LocalKeks};
use std::collections::BTreeMap;

const PREFIX: &str = "S3SEAL_KEK_";
const ACTIVE: &str = "S3SEAL_KEK_ACTIVE";

/// Reads the given variables (normally `std::env::vars()`); ids are lower-cased.
pub fn from_env(vars: impl Iterator<Item = (String, String)>) -> Result<LocalKeks, KeyError> {
    let mut active = None;
    let mut keks = BTreeMap::new();
    for (name, value) in vars {
        if name == ACTIVE {
            active = Some(value.to_ascii_lowercase());
        } else if let Some(id) = name.strip_prefix(PREFIX) {
            let k = Kek::from_base64(&value)
                .map_err(|m| KeyError::Config(format!("environment variable {name}: {m}")))?;
            keks.insert(id.to_ascii_lowercase(), k);
        }
    }
    if keks.is_empty() {
        return Err(KeyError::Config(format!(
            "keys.provider = \"env\" but no {PREFIX}<ID> variable is set (base64 of 32 bytes)"
        )));
    }
    let active = match active {
        Some(a) => a,
        None if keks.len() == 1 => keks.keys().next().cloned().unwrap_or_default(),
        None => {
            return Err(KeyError::Config(format!(
                "several {PREFIX}<ID> variables are set; name the active one in {ACTIVE}"
            )));
        }
    };
    LocalKeks::new("environment (S3SEAL_KEK_*)".into(), active, keks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KekProvider, WrapContext};
    use base64::Engine;

    /// `keygen --id K1` writes objects naming `K1`; moved to `S3SEAL_KEK_K1` (read as `k1`)
    /// they still open, and another key under that name still does not.
    #[tokio::test]
    async fn ids_spelled_upper_case_in_a_key_file_open_from_the_environment() {
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let file_keys = [("K1".to_owned(), Kek::from_base64(&b64).unwrap())].into();
        let file = LocalKeks::new("file".into(), "K1".into(), file_keys).unwrap();
        let ctx = WrapContext::v1("photos/a.jpg");
        let dek = crate::format::Dek::generate();
        let w = file.wrap(&dek, &ctx).await.unwrap();
        assert_eq!(w.kek_id, "K1");
        let env = from_env([("S3SEAL_KEK_K1".to_owned(), b64)].into_iter()).unwrap();
        let opened = env.unwrap(&w, &ctx).await.unwrap();
        assert_eq!(opened.expose(), dek.expose());
        let other = base64::engine::general_purpose::STANDARD.encode([8u8; 32]);
        let env = from_env([("S3SEAL_KEK_K1".to_owned(), other)].into_iter()).unwrap();
        assert!(env.unwrap(&w, &ctx).await.is_err());
    }
}
