//! The gateway in front of a newer moto (5.2.x, `tests/requirements-moto-latest.txt`, installed
//! by `scripts/setup-test-deps` into its own venv; the conformance harness keeps moto pinned).
//! moto 5.2 answers some calls with root elements boto3 accepts and aws-sdk-s3 did not
//! (`CompleteMultipartUploadResponse`, `ListPartsResponse`): every multipart upload through
//! the gateway failed with 500 while the access log said 200. Real stores have such quirks;
//! the gateway reads what boto3 reads.

mod support;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use support::*;

fn latest_moto() -> String {
    let python = std::env::var("S3SEAL_TEST_PYTHON_MOTO_LATEST").unwrap_or_else(|_| {
        panic!("S3SEAL_TEST_PYTHON_MOTO_LATEST is not set: run ./scripts/test, which installs moto 5.2.x")
    });
    spawn_moto_with(&python)
}

#[tokio::test]
async fn multipart_put_get_and_list_through_the_gateway() {
    let url = latest_moto();
    let direct = client(&url, "testing", "testing");
    let up = url.clone();
    let gw = TestGateway::start_with(Upstream::Moto, move |c| {
        if let s3seal::config::UpstreamConfig::S3 { endpoint, .. } = &mut c.upstream {
            *endpoint = Some(up);
        }
    })
    .await;
    let c = &gw.client;
    let b = "latest-moto";
    c.create_bucket().bucket(b).send().await.unwrap();

    // Single PUT and GET.
    let small = pattern(100_000, 1);
    gw.put(b, "single", &small).await;
    assert_eq!(gw.get(b, "single").await, small);

    // Multipart with an unaligned part, listed, completed twice (a retry), read back.
    const PART: usize = 5 * 1024 * 1024 + 1000;
    let data = pattern(PART * 2 + 17, 2);
    let id = c
        .create_multipart_upload()
        .bucket(b)
        .key("mp")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let mut parts = Vec::new();
    for (i, chunk) in data.chunks(PART).enumerate() {
        let n = i as i32 + 1;
        let o = c
            .upload_part()
            .bucket(b)
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .body(chunk.to_vec().into())
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(o.e_tag.unwrap())
                .build(),
        );
    }
    let listed = c
        .list_parts()
        .bucket(b)
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 3);
    let listed_tags: Vec<_> = listed.parts().iter().map(|p| p.e_tag().unwrap()).collect();
    let sent_tags: Vec<_> = parts.iter().map(|p| p.e_tag().unwrap()).collect();
    assert_eq!(listed_tags, sent_tags);
    let complete = || {
        c.complete_multipart_upload()
            .bucket(b)
            .key("mp")
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts.clone()))
                    .build(),
            )
            .send()
    };
    let first = complete().await.unwrap();
    let again = complete().await.unwrap();
    assert_eq!(first.e_tag(), again.e_tag());
    assert_eq!(gw.get(b, "mp").await, data);
    let head = c.head_object().bucket(b).key("mp").send().await.unwrap();
    assert_eq!(head.content_length(), Some(data.len() as i64));
    assert_eq!(head.e_tag(), first.e_tag());
    let ranged = c
        .get_object()
        .bucket(b)
        .key("mp")
        .range(format!("bytes={}-{}", PART - 10, PART + 9))
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&ranged[..], &data[PART - 10..PART + 10]);

    // The store holds ciphertext and a wrapped key, and a size the client never sees.
    let stored = direct
        .get_object()
        .bucket(b)
        .key("mp")
        .send()
        .await
        .unwrap();
    let meta = stored.metadata().cloned().unwrap_or_default();
    assert!(meta.contains_key("s3seal-dek"), "{meta:?}");
    let raw = stored.body.collect().await.unwrap().into_bytes();
    assert_ne!(raw.len(), data.len());
    assert!(!raw.windows(64).any(|w| w == &data[..64]));

    // Listing shows the plaintext sizes.
    let l = c.list_objects_v2().bucket(b).send().await.unwrap();
    let sizes: Vec<_> = l
        .contents()
        .iter()
        .map(|o| (o.key().unwrap().to_owned(), o.size().unwrap()))
        .collect();
    assert_eq!(
        sizes,
        [
            ("mp".to_owned(), data.len() as i64),
            ("single".to_owned(), small.len() as i64)
        ]
    );
}
