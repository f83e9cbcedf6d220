//! Every example config in config/ must load, so the docs can't rot.

#[test]
fn example_configs_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            s3seal::config::Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 3, "expected the example configs, found {n}");
}
