//! placeholder until the keyring lands
