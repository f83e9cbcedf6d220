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
