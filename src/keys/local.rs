//! KEKs held in this process (from a key file or the environment).

use super::wrap::{unwrap, wrap};
use super::{Kek, KekProvider, KeyError, WrapContext, WrappedDek};
use crate::format::Dek;
use std::collections::BTreeMap;

pub struct LocalKeks {
    source: String,
    active: String,
    keks: BTreeMap<String, Kek>,
}

impl LocalKeks {
    /// `source` describes where the keys came from, for the banner and errors.
    pub fn new(
        source: String,
        active: String,
        keks: BTreeMap<String, Kek>,
    ) -> Result<Self, KeyError> {
        if !keks.contains_key(&active) {
            return Err(KeyError::Config(format!(
                "{source}: active KEK '{active}' is not among the keys ({})",
                keks.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(LocalKeks {
            source,
            active,
            keks,
        })
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keks.keys().map(String::as_str)
    }
}

/// KEK ids go into object metadata: keep them short and header-safe.
pub fn valid_id(id: &str) -> bool {
    // "sse-c" marks objects wrapped under a client's own key (SSE-C emulation).
    id != "sse-c"
        && !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

#[async_trait::async_trait]
impl KekProvider for LocalKeks {
    fn describe(&self) -> String {
        format!(
            "{} (active KEK {}, {} keys)",
            self.source,
            self.active,
            self.keks.len()
        )
    }

    fn active_id(&self) -> &str {
        &self.active
    }

    async fn wrap_under(
        &self,
        id: &str,
        dek: &Dek,
        ctx: &WrapContext,
    ) -> Result<WrappedDek, KeyError> {
        let kek = self
            .keks
            .get(id)
            .ok_or_else(|| KeyError::UnknownKek(id.to_owned()))?;
        Ok(wrap(kek, id, dek, ctx))
    }

    /// The object names its KEK as the key file spelled it (`K1`); the environment cannot
    /// (variable names are upper case, ids are read lower case). An id known only in another
    /// case is used when exactly one matches; the id as stored stays in the AAD, so a
    /// different key under that name still fails to unwrap.
    async fn unwrap(&self, w: &WrappedDek, ctx: &WrapContext) -> Result<Dek, KeyError> {
        let kek = self.keks.get(&w.kek_id).or_else(|| {
            let mut same = (self.keks.iter()).filter(|(id, _)| id.eq_ignore_ascii_case(&w.kek_id));
            match (same.next(), same.next()) {
                (Some((_, k)), None) => Some(k),
                _ => None,
            }
        });
        let kek = kek.ok_or_else(|| KeyError::UnknownKek(w.kek_id.clone()))?;
        unwrap(kek, w, ctx)
    }
}
