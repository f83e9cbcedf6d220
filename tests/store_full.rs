//! A full disk under the embedded store: the real binary on a tmpfs of a few MiB that the test
//! mounts (it needs the privilege to mount; where that is missing the tests say so and stop).
//! Writes fail cleanly, deletes keep working, the gateway restarts, nothing acknowledged is
//! lost, and a failed write leaves no space taken.

mod support;

use aws_sdk_s3::Client;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_s3seal");
const MIB: usize = 1 << 20;

/// A tmpfs mounted on a temp dir, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(mib: usize) -> Option<Tmpfs> {
        let d = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(d.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: this environment does not allow mounting a tmpfs");
            return None;
        }
        Some(Tmpfs(d))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Takes every free byte, as another program on the same disk would.
    fn fill(&self) -> PathBuf {
        let p = self.path().join("filler");
        let mut f = std::fs::File::create(&p).unwrap();
        let chunk = vec![7u8; 64 << 10];
        while f.write_all(&chunk).is_ok() {}
        let small = [7u8; 512];
        while f.write_all(&small).is_ok() {}
        let _ = f.sync_all();
        p
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// The gateway with its store in `store` and everything else (config, keys) in `home`.
struct Gw {
    child: Child,
    client: Client,
}

impl Gw {
    fn start(home: &Path, store: &Path) -> Result<Gw, String> {
        let cfg = home.join("gw.toml");
        std::fs::write(
            &cfg,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\nconsole_listen = \"127.0.0.1:0\"\n\
                 [upstream]\npath = \"{}\"\n[keys]\npath = \"{}\"\ncreate_if_missing = true\n\
                 [[users]]\naccess_key = \"fulluser\"\nsecret_key = \"full-user-secret-01\"\n",
                store.display(),
                home.join("keys.toml").display()
            ),
        )
        .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&cfg)
            .current_dir(home)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        if first.is_empty() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            let _ = child.wait();
            return Err(err);
        }
        // Drain the logs so the pipe never fills.
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        let endpoint = first.split_whitespace().last().unwrap().to_owned();
        let c = support::client(&endpoint, "fulluser", "full-user-secret-01");
        let conf = c.config().to_builder();
        let conf = conf.retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
        let client = Client::from_conf(conf.build());
        Ok(Gw { child, client })
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn put(c: &Client, k: &str, body: &[u8]) -> Result<(), String> {
    c.put_object()
        .bucket("full")
        .key(k)
        .body(body.to_vec().into())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| support::error_code(Err::<(), _>(e)).unwrap_or_default())
}

async fn get(c: &Client, k: &str) -> Vec<u8> {
    let o = c.get_object().bucket("full").key(k).send().await.unwrap();
    o.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn a_full_disk_keeps_deletes_and_restarts_working_and_loses_nothing() {
    let Some(fs) = Tmpfs::mount(24) else { return };
    let home = tempfile::tempdir().unwrap();
    let store = fs.path().join("data");
    let gw = Gw::start(home.path(), &store).unwrap();
    let c = gw.client.clone();
    c.create_bucket().bucket("full").send().await.unwrap();
    // Uploads until the disk refuses one: each acknowledged one must survive what follows.
    let mut acked = Vec::new();
    let refused = loop {
        let (k, data) = (
            format!("k{}", acked.len()),
            support::pattern(MIB, acked.len() as u64),
        );
        match put(&c, &k, &data).await {
            Ok(()) => acked.push((k, data)),
            Err(code) => break code,
        }
        assert!(acked.len() < 64, "the 24 MiB disk never filled");
    };
    assert!(acked.len() >= 5, "only {} uploads fit", acked.len());
    assert_eq!(refused, "InternalError");
    let filler = fs.fill();

    // A failed overwrite leaves the old version.
    assert!(put(&c, "k1", b"new").await.is_err());
    assert!(
        get(&c, "k1").await == acked[1].1,
        "k1 survives a refused overwrite"
    );
    assert!(
        std::fs::read_dir(store.join("tmp"))
            .unwrap()
            .next()
            .is_none(),
        "failed uploads leave nothing in tmp/"
    );

    // Restarting on the full disk: it used to exit with "No space left on device" (start-up
    // rewrites the journal), leaving nothing able to free space.
    gw.stop();
    let gw = Gw::start(home.path(), &store).expect("the gateway starts on a full disk");
    let c = gw.client.clone();
    for (k, data) in &acked {
        assert!(get(&c, k).await == *data, "{k} after the restart");
    }

    // Requests that only add journal records (tags, new uploads) are refused while the disk
    // cannot give the reserve back: repeated, they used to use up what deletes need. (The
    // first few fit in what is left, one releases it.)
    let mut refused = 0;
    for i in 0..50 {
        let tag = aws_sdk_s3::types::Tag::builder()
            .key("k")
            .value(format!("{i:0>200}"))
            .build()
            .unwrap();
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .tag_set(tag)
            .build()
            .unwrap();
        let r = c
            .put_object_tagging()
            .bucket("full")
            .key("k3")
            .tagging(tagging)
            .send()
            .await;
        match support::error_code(r).as_deref() {
            None => assert_eq!(refused, 0, "tagging {i} after a refusal"),
            Some("InternalError") => refused += 1,
            other => panic!("tagging {i}: {other:?}"),
        }
    }
    assert!(refused >= 40, "{refused} of 50 taggings refused");
    let r = c
        .create_multipart_upload()
        .bucket("full")
        .key("mp")
        .send()
        .await;
    assert_eq!(support::error_code(r).as_deref(), Some("InternalError"));

    // Deletes free space and must keep working: they used to fail with the journal append.
    c.delete_object()
        .bucket("full")
        .key("k0")
        .send()
        .await
        .expect("a delete on a full disk");
    let del = aws_sdk_s3::types::Delete::builder()
        .objects(
            aws_sdk_s3::types::ObjectIdentifier::builder()
                .key("k2")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let r = c
        .delete_objects()
        .bucket("full")
        .delete(del)
        .send()
        .await
        .unwrap();
    assert!(r.errors().is_empty(), "{:?}", r.errors());
    let listed = c.list_objects_v2().bucket("full").send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(!keys.contains(&"k0") && !keys.contains(&"k2"), "{keys:?}");

    // Space back: uploads work again, and every acknowledged object is intact.
    std::fs::remove_file(filler).unwrap();
    put(&c, "after", b"room again").await.unwrap();
    assert_eq!(get(&c, "after").await, b"room again");
    for (k, data) in acked.iter().filter(|(k, _)| k != "k0" && k != "k2") {
        assert!(get(&c, k).await == *data, "{k} at the end");
    }
    gw.stop();
}

/// A Complete the disk cannot hold fails cleanly and takes no space: its half-written
/// concatenation used to stay in tmp/ until a restart, holding the room its retry needed.
#[tokio::test]
async fn a_complete_that_does_not_fit_leaves_no_space_taken() {
    let Some(fs) = Tmpfs::mount(32) else { return };
    let home = tempfile::tempdir().unwrap();
    let store = fs.path().join("data");
    let gw = Gw::start(home.path(), &store).unwrap();
    let c = gw.client.clone();
    c.create_bucket().bucket("full").send().await.unwrap();
    put(&c, "big", b"the old version").await.unwrap();
    let data = support::pattern(12 * MIB, 3);
    let (id, done) = support::upload_parts(&c, "full", "big", &data, 6 * MIB).await;
    // Leave ~4 MiB: less than the 12 MiB the concatenation needs.
    let filler = fs.fill();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - 4 * MIB as u64).unwrap();
    drop(f);
    let complete = || {
        c.complete_multipart_upload()
            .bucket("full")
            .key("big")
            .upload_id(&id)
            .multipart_upload(done.clone())
            .send()
    };
    let r = complete().await;
    assert_eq!(
        support::error_code(r).as_deref(),
        Some("InternalError"),
        "the Complete does not fit"
    );
    assert!(
        std::fs::read_dir(store.join("tmp"))
            .unwrap()
            .next()
            .is_none(),
        "the failed concatenation is gone from tmp/"
    );
    assert_eq!(get(&c, "big").await, b"the old version");
    // Freed space: the client's retry completes, and the object reads back whole.
    std::fs::remove_file(filler).unwrap();
    complete().await.expect("the retried Complete");
    assert!(get(&c, "big").await == data);
    gw.stop();
}

/// First start of the embedded default on a full disk: it fails naming the file, and starts
/// once there is room. The generated credentials and key file used to be written in place,
/// so the failed start left them empty and every later start refused to parse them.
#[test]
fn a_first_start_on_a_full_disk_leaves_nothing_half_written() {
    let Some(fs) = Tmpfs::mount(2) else { return };
    let filler = fs.fill();
    let start = || {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--console-listen",
                "127.0.0.1:0",
            ])
            .current_dir(fs.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        (first, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (banner, err) = start();
    assert!(banner.is_empty(), "no room, yet it started: {banner}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        err.contains(".toml") || err.contains("data"),
        "the error names what could not be written: {err}"
    );
    std::fs::remove_file(filler).unwrap();
    let (banner, err) = start();
    assert!(
        banner.contains("127.0.0.1"),
        "starts once there is room: {err}"
    );
}

/// A first start with about the reserve's size free: the reserve is taken by the first write,
/// not at start, so the credentials and key file still fit (taken at start, it left no room
/// for them and every later start failed the same way).
#[test]
fn a_first_start_with_little_room_still_starts() {
    let Some(fs) = Tmpfs::mount(8) else { return };
    let filler = fs.fill();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - (4 * MIB as u64 + 4096)).unwrap();
    drop(f);
    for _ in 0..2 {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--console-listen",
                "127.0.0.1:0",
            ])
            .current_dir(fs.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        assert!(
            first.contains("127.0.0.1"),
            "did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
