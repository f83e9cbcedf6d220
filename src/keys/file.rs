//! The key file: TOML with the active KEK id and base64 keys, readable by its owner only.
//!
//! ```toml
//! active = "k1"
//! [keys]
//! k1 = "base64 of 32 bytes"
//! ```

use super::local::valid_id;
use super::{Kek, KeyError, LocalKeks};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use zeroize::Zeroizing;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    active: String,
    keys: BTreeMap<String, Zeroizing<String>>,
}

/// Loads and checks a key file; every error names the file and what is wrong.
pub fn load_key_file(path: &Path) -> Result<LocalKeks, KeyError> {
    let shown = path.display();
    let err = |m: String| KeyError::Config(format!("key file {shown}: {m}"));
    check_private(path).map_err(err)?;
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?,
    );
    let f: KeyFile =
        toml::from_str(&text).map_err(|e| err(format!("invalid TOML: {}", e.message())))?;
    let mut keks = BTreeMap::new();
    for (id, b64) in &f.keys {
        if !valid_id(id) {
            return Err(err(format!(
                "keys.{id}: KEK ids are 1-64 characters of A-Z a-z 0-9 - _ ."
            )));
        }
        let k = Kek::from_base64(b64).map_err(|m| err(format!("keys.{id}: {m}")))?;
        keks.insert(id.clone(), k);
    }
    if keks.is_empty() {
        return Err(err(
            "[keys] is empty; run `s3seal keygen` to create a key".into()
        ));
    }
    LocalKeks::new(format!("key file {shown}"), f.active, keks)
}

/// A file that others can read would leak every object's key: refuse it.
#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "permissions are {mode:o}; must be readable by its owner only (chmod 600)"
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> Result<(), String> {
    Ok(())
}

/// Creates a new key file with one fresh KEK `id`, active; refuses to overwrite.
pub fn generate_key_file(path: &Path, id: &str) -> Result<(), KeyError> {
    if !valid_id(id) {
        return Err(KeyError::Config(format!(
            "KEK id '{id}': use 1-64 characters of A-Z a-z 0-9 - _ ."
        )));
    }
    if path.exists() {
        return Err(KeyError::Config(format!(
            "key file {} already exists; use `s3seal keygen --add` to add a key",
            path.display()
        )));
    }
    let mut keys = BTreeMap::new();
    keys.insert(id.to_owned(), Kek::generate());
    write(path, id, &keys)
}

/// Adds a fresh KEK `id` to an existing key file, optionally making it active.
pub fn add_key(path: &Path, id: &str, make_active: bool) -> Result<(), KeyError> {
    let cur = load_key_file(path)?;
    if cur.ids().any(|k| k == id) {
        return Err(KeyError::Config(format!(
            "key file {}: KEK '{id}' already exists",
            path.display()
        )));
    }
    if !valid_id(id) {
        return Err(KeyError::Config(format!(
            "KEK id '{id}': use 1-64 characters of A-Z a-z 0-9 - _ ."
        )));
    }
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| KeyError::Config(e.to_string()))?);
    let f: KeyFile = toml::from_str(&text).map_err(|e| KeyError::Config(e.to_string()))?;
    let mut keys = BTreeMap::new();
    for (k, v) in &f.keys {
        keys.insert(k.clone(), Kek::from_base64(v).map_err(KeyError::Config)?);
    }
    keys.insert(id.to_owned(), Kek::generate());
    let active = if make_active { id } else { f.active.as_str() };
    let tmp = path.with_extension("toml.tmp");
    let _ = std::fs::remove_file(&tmp);
    write(&tmp, active, &keys)?;
    std::fs::rename(&tmp, path)
        .map_err(|e| KeyError::Config(format!("key file {}: {e}", path.display())))
}

fn write(path: &Path, active: &str, keys: &BTreeMap<String, Kek>) -> Result<(), KeyError> {
    let err = |e: std::io::Error| {
        KeyError::Config(format!("key file {}: cannot write: {e}", path.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut text = Zeroizing::new(format!(
        "# s3seal key-encryption keys. Losing this file loses every object; back it up.\nactive = \"{active}\"\n\n[keys]\n"
    ));
    for (id, k) in keys {
        text.push_str(&format!("{id} = \"{}\"\n", k.to_base64().as_str()));
    }
    crate::credentials::write_private(path, text.as_bytes())
        .map_err(|e| KeyError::Config(format!("key file {e:#}")))
}
