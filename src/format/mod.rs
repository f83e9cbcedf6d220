mod dek;
pub use dek::{DEK_LEN, Dek};
