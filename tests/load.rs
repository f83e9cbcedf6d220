//! A short, bounded load run (counts, not wall-clock): 16 concurrent clients mixing PUT, GET,
//! ranged GET, LIST and multipart with sizes from 0 B to 6 MiB; afterwards every object is
//! read back and compared byte for byte. Zero errors, zero mismatches.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use std::sync::Arc;
use support::*;

const WORKERS: u64 = 16;
const OPS: u64 = 12;

fn size_for(w: u64, i: u64) -> usize {
    // Deterministic spread over the interesting sizes: empty, tiny, around a segment, MiBs.
    [0, 1, 65535, 65536, 65537, 300_000, 1 << 20, 3 << 20][((w * 7 + i * 3) % 8) as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mixed_workload_loses_and_corrupts_nothing() {
    let gw = Arc::new(TestGateway::start(Upstream::Fs).await);
    let b = Arc::new(gw.bucket().await);
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let (gw, b) = (gw.clone(), b.clone());
        tasks.push(tokio::spawn(async move {
            let c = &gw.client;
            let mut written = Vec::new();
            for i in 0..OPS {
                let key = format!("w{w}/o{i}");
                let data = pattern(size_for(w, i), w * 1000 + i);
                if i % 6 == 5 {
                    // Multipart: one aligned 5 MiB part plus an uneven last one.
                    let data = pattern((5 << 20) + 4321, w * 1000 + i);
                    multipart_put(c, &b, &key, &data, 5 << 20).await;
                    written.push((key, data));
                    continue;
                }
                c.put_object()
                    .bucket(&*b)
                    .key(&key)
                    .body(ByteStream::from(data.clone()))
                    .send()
                    .await
                    .unwrap();
                let got = c.get_object().bucket(&*b).key(&key).send().await.unwrap();
                assert_eq!(
                    got.body.collect().await.unwrap().into_bytes().as_ref(),
                    &data[..],
                    "{key}"
                );
                if data.len() > 100 {
                    let r = c
                        .get_object()
                        .bucket(&*b)
                        .key(&key)
                        .range("bytes=50-99")
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(
                        r.body.collect().await.unwrap().into_bytes().as_ref(),
                        &data[50..100]
                    );
                }
                if i % 4 == 0 {
                    let l = c
                        .list_objects_v2()
                        .bucket(&*b)
                        .prefix(format!("w{w}/"))
                        .send()
                        .await
                        .unwrap();
                    assert!(l.contents().iter().any(|o| o.key() == Some(key.as_str())));
                }
                written.push((key, data));
            }
            written
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("worker finished without error"));
    }
    assert_eq!(all.len() as u64, WORKERS * OPS);
    let mut mismatches = 0;
    for (key, data) in &all {
        if gw.get(&b, key).await != *data {
            mismatches += 1;
        }
    }
    assert_eq!(mismatches, 0);
    // Sizes in LIST agree with what was written.
    let mut listed = 0;
    let mut token = None;
    loop {
        let out = gw
            .client
            .list_objects_v2()
            .bucket(&*b)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        for o in out.contents() {
            let want = all
                .iter()
                .find(|(k, _)| Some(k.as_str()) == o.key())
                .unwrap();
            assert_eq!(o.size(), Some(want.1.len() as i64), "{:?}", o.key());
            listed += 1;
        }
        token = out.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(listed, all.len());
}
