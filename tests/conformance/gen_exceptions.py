#!/usr/bin/env python3
"""Drafts a pair's section of exceptions.toml from a harness run (`--json`).

Every difference of the run is classified by the first matching rule of RULES (a known,
explained difference class); differences no rule explains are listed under "UNEXPLAINED" so a
human looks at them. Output groups one entry per (class, scenario) with the steps and fields
seen, so a fixed behaviour shows up as a stale entry on the next run.

    python gen_exceptions.py PAIR run.json > section.toml
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections import defaultdict

STORE = ["moto_vs_store"]
GW = ["moto_vs_gateway", "store_vs_gateway"]
ALL = STORE + GW

# (pairs, scenario glob, step glob, field glob, reason). First match wins.
RULES = [
    # --- moto quirks (A side of moto_* pairs); AWS behaves like B here ----------------------
    (STORE, "put_get_head_delete", "get-override", "header:*",
     "moto ignores response-content-type/-disposition/-cache-control overrides on GET; the store honours them as AWS does"),
    (STORE, "conditionals", "*-ifmatch-star", "*",
     "moto answers 412 to If-Match: * on an existing object; S3 and the store answer 200"),
    (STORE, "conditionals", "*-ifmatch-ius", "*",
     "If-Match true with If-Unmodified-Since false: S3 (RFC 7232 order) and the store answer 200, moto 412"),
    (STORE, "list_v1", "*", "result.NextMarker",
     "moto's ListObjects NextMarker is an MD5 of the key and comes without a delimiter too; S3 and the store send the last key, only with a delimiter"),
    (STORE, "list_v1", "max2-delim", "result.CommonPrefixes",
     "moto returns CommonPrefixes beyond max-keys; S3 and the store count them in max-keys"),
    (STORE, "*", "*", "result.Marker",
     "moto omits Marker in ListObjects v1; S3 and the store echo it (empty when not given)"),
    (STORE, "*", "*", "result.Prefix",
     "moto omits an empty Prefix in ListObjects v1 and the Prefix of ListMultipartUploads; S3 and the store echo them"),
    (STORE, "list_v2", "*", "result.ContinuationToken",
     "moto does not echo ContinuationToken; S3 and the store do"),
    (STORE, "list_v2", "bad-token", "*",
     "invalid continuation token: moto answers 500, the store 400 InvalidArgument as S3 does"),
    (STORE, "copy_conditions", "*", "*",
     "moto ignores x-amz-copy-source-if-* on CopyObject; the store enforces them as S3 does"),
    (STORE, "*", "copy-*", "header:etag",
     "moto sends an ETag header on CopyObject/UploadPartCopy answers; S3 (and the store) put it only in the XML body"),
    (STORE, "odd_keys", "put-1025", "*",
     "moto accepts a 1025-byte key; the store answers KeyTooLongError as S3 does"),
    (STORE, "delete_objects", "delete-quiet", "result.Deleted",
     "moto lists deleted keys in Quiet mode; S3 and the store list only errors"),
    (STORE, "multipart_*", "get-part-*", "*",
     "moto ignores partNumber on GET (whole object, 200, no parts count, no 416 InvalidPartNumber for a missing part); the store answers as S3 does"),
    (STORE, "multipart_*", "head-part-*", "*",
     "moto ignores partNumber on HEAD (the part's MD5 as ETag, no Content-Range, metadata and Content-Type lost); the store answers as S3 does"),
    (STORE, "multipart_*", "unknown-upload", "*",
     "unknown upload id: moto answers 500, the store 404 NoSuchUpload as S3 does"),
    (STORE, "multipart_*", "complete-unknown", "*",
     "unknown upload id: moto answers 500, the store 404 NoSuchUpload as S3 does"),
    (STORE, "multipart_*", "part-after-abort", "*",
     "aborted upload id: moto answers 500, the store 404 NoSuchUpload as S3 does"),
    (STORE, "multipart_basic", "complete-out-of-order", "error",
     "parts both out of order and too small: moto reports EntityTooSmall, the store InvalidPartOrder (it checks order first)"),
    (STORE, "multipart_list_uploads", "list-max1", "*",
     "moto ignores max-uploads; the store truncates with NextKeyMarker/NextUploadIdMarker as S3 does"),
    (STORE, "multipart_list_uploads", "list-keymarker", "*",
     "moto ignores key-marker; the store lists only the keys after it as S3 does"),
    (STORE, "tagging", "put-*", "header:x-amz-tagging-count",
     "moto sends x-amz-tagging-count on PutObject answers; S3 (and the store) do not"),
    (STORE, "tagging", "copy-*", "header:x-amz-tagging-count",
     "moto sends x-amz-tagging-count on CopyObject answers; S3 (and the store) do not"),
    # --- the embedded store (src/store): what it does not do (yet) ----------------------------
    (STORE, "ranges", "bad-syntax", "*",
     "invalid Range syntax: S3 (and moto) ignore it and answer 200; s3s parses Range before the store and answers 400 InvalidArgument"),
    (STORE, "ranges", "inverted", "*",
     "inverted Range: S3 (and moto) ignore it and answer 200; s3s parses Range before the store and answers 400 InvalidArgument"),
    (STORE, "*", "complete*", "result.Location",
     "the store's CompleteMultipartUpload answer has no Location (moto gives an AWS virtual-host URL)"),
    (STORE, "multipart_*", "complete*", "*version-id",
     "moto sends x-amz-version-id: null on CompleteMultipartUpload in a bucket that never had versioning; S3 (it names a version only when versioning is on) and the store send none"),
    (STORE, "multipart_*", "complete*", "result.VersionId",
     "moto sends x-amz-version-id: null on CompleteMultipartUpload in a bucket that never had versioning; S3 (it names a version only when versioning is on) and the store send none"),
    (STORE, "upload_part_copy", "complete*", "*version-id",
     "moto sends x-amz-version-id: null on CompleteMultipartUpload in a bucket that never had versioning; S3 (it names a version only when versioning is on) and the store send none"),
    (STORE, "upload_part_copy", "complete*", "result.VersionId",
     "moto sends x-amz-version-id: null on CompleteMultipartUpload in a bucket that never had versioning; S3 (it names a version only when versioning is on) and the store send none"),
    *[(STORE, sc, st, "*",
       "moto bug with suspended versioning: a PUT or DELETE on a suspended bucket drops every older version of the key and answers neither x-amz-version-id: null nor x-amz-delete-marker; S3 (docs: 'Working with objects in a versioning-suspended bucket') keeps the older versions, a PUT replaces only the null version, a DELETE writes a null delete marker — the store does what S3 does")
      for sc, st in [
          ("versioning", "put-suspended"), ("versioning", "delete-suspended"),
          ("versioning", "list-versions-suspended"), ("versioning", "list-versions-final"),
          ("versioning_null_version", "put-s[12]"), ("versioning_null_version", "list-s[12]"),
          ("versioning_null_version", "get-null"), ("versioning_null_version", "get-v1"),
          ("versioning_null_version", "delete-suspended"), ("versioning_null_version", "list-null-marker"),
          ("versioning_null_version", "head-null-marker"), ("versioning_null_version", "list-reenabled"),
          ("versioning_null_version", "list-final"), ("versioning_null_version", "delete-null-marker"),
      ]],
    (STORE, "versioning*", "*", "result.Delimiter",
     "moto echoes Delimiter 'None' in ListObjectVersions when none was sent; S3 and the store omit it"),
    (STORE, "versioning*", "*", "result.EncodingType",
     "moto does not echo EncodingType in ListObjectVersions (boto3 always asks for url); S3 and the store echo it"),
    (STORE, "versioning*", "list-url", "result.Versions",
     "moto ignores an explicit encoding-type=url in ListObjectVersions; S3 and the store %-encode the keys"),
    (STORE, "versioning*", "list-keymarker", "result.Versions",
     "moto's ListObjectVersions with a key-marker alone restarts inside the marker key (and drops that key's newest version); S3 and the store list the keys after the marker"),
    (STORE, "versioning*", "*tag-*", "*version-id",
     "moto omits x-amz-version-id on PutObjectTagging/DeleteObjectTagging; S3 and the store name the version tagged"),
    (STORE, "versioning*", "*tag-*", "result.VersionId",
     "moto omits x-amz-version-id on PutObjectTagging/DeleteObjectTagging; S3 and the store name the version tagged"),
    (STORE, "versioning*", "delete-multi", "result.Deleted",
     "deleting a delete marker by version id: moto omits DeleteMarker/DeleteMarkerVersionId; S3 and the store report that a marker was deleted"),
    (STORE, "versioning*", "head-pre-enabled", "header:x-amz-version-id",
     "moto never sends x-amz-version-id: null (it cannot tell a null version from an unversioned bucket's object); S3 and the store name the null version in a bucket that has versioning configured"),
    (STORE, "versioning", "get-null", "header:x-amz-version-id",
     "moto never sends x-amz-version-id: null (it cannot tell a null version from an unversioned bucket's object); S3 and the store name the null version in a bucket that has versioning configured"),
    (STORE, "versioning*", "get-marker-version", "*",
     "GET of a delete marker by version id: moto answers 404 NoSuchVersion; S3 (GetObject docs: 405 Method Not Allowed) and the store answer 405 MethodNotAllowed"),
    (STORE, "versioning_unknown_ids_and_cleanup", "delete-marker", "*",
     "deleting a delete marker by version id: moto omits x-amz-delete-marker: true; S3 (DeleteObject docs) and the store say a marker was deleted"),
    (STORE, "versioning*", "list-max0", "*",
     "ListObjectVersions max-keys=0: moto answers IsTruncated with NextKeyMarker = the first key and no NextVersionIdMarker (a client following it skips that key's versions); the store answers an empty, untruncated page as ListObjects does for max-keys=0 (moto and S3 too)"),
    (STORE, "versioning*", "delete-marker-version", "*",
     "deleting a delete marker by version id: moto omits x-amz-delete-marker: true; S3 (DeleteObject docs) and the store say a marker was deleted"),
    # --- the gateway ----------------------------------------------------------------------
    (["moto_vs_gateway"], "conditionals", "*-ifmatch-star", "*",
     "moto answers 412 to If-Match: * on an existing object; S3 and the gateway answer 200"),
    (["moto_vs_gateway"], "conditionals", "*-ifmatch-ius", "*",
     "If-Match true with If-Unmodified-Since false: S3 (RFC 7232 order) and the gateway answer 200, moto 412"),
    (["moto_vs_gateway"], "copy_conditions", "*", "*",
     "moto ignores failing x-amz-copy-source-if-* conditions and copies anyway (so it lists more keys); S3 and the gateway answer 412"),
    (["moto_vs_gateway"], "*", "copy-*", "header:etag",
     "moto sends an ETag header on CopyObject answers; S3 (and the gateway) put it only in the XML body"),
    (GW, "*", "*", "header:x-amz-meta-*",
     "gateway shows x-amz-meta-md5chksum (the plaintext MD5, base64) on sealed objects whose MD5 it recorded: rclone reads it to verify objects whose ETag is not an MD5"),
    (GW, "*", "*", "result.Size",
     "gateway's PutObject answer carries x-amz-object-size (boto3 'Size'); the store's does not"),
    (["moto_vs_gateway"], "multipart_*", "get-part-*", "*",
     "moto ignores partNumber on GET (whole object, 200; no 416 InvalidPartNumber); the gateway answers the part from the committed layout, as S3 does"),
    (["moto_vs_gateway"], "multipart_*", "head-part-*", "*",
     "moto ignores partNumber on HEAD (the part's MD5 as ETag, no Content-Range); the gateway answers the part's size and range from the committed layout, as S3 does"),
    (GW, "*", "*part-*", "result.ETag",
     "part ETags (UploadPart, UploadPartCopy, ListParts) are the store's part ETag with '-1', like object ETags (not a plaintext MD5); CompleteMultipartUpload checks the client's list against them (InvalidPart)"),
    (GW, "*", "*part-*", "header:etag",
     "part ETags (UploadPart, UploadPartCopy, ListParts) are the store's part ETag with '-1', like object ETags (not a plaintext MD5); CompleteMultipartUpload checks the client's list against them (InvalidPart)"),
    (GW, "*", "copy-part-*", "result.CopyPartResult",
     "part ETags (UploadPart, UploadPartCopy, ListParts) are the store's part ETag with '-1', like object ETags (not a plaintext MD5); CompleteMultipartUpload checks the client's list against them (InvalidPart)"),
    (GW, "*", "list-parts*", "result.Parts",
     "part ETags (UploadPart, UploadPartCopy, ListParts) are the store's part ETag with '-1', like object ETags (not a plaintext MD5); CompleteMultipartUpload checks the client's list against them (InvalidPart)"),
    (["moto_vs_gateway"], "multipart_*", "complete-again", "*",
     "CompleteMultipartUpload retried after it succeeded: the gateway answers from the object (200, same ETag) without Location and version id"),
    (GW, "multipart_basic", "complete-out-of-order", "error",
     "parts both out of order and too small: the gateway reports InvalidPartOrder (it checks order first), moto EntityTooSmall"),
    (GW, "multipart_list_uploads", "list*", "result.NextUploadIdMarker",
     "ListMultipartUploads shows the store's upload ids: the gateway's id carries the upload's wrapped key, which no S3 listing returns (AbortMultipartUpload accepts a listed id; adding parts needs the id CreateMultipartUpload returned; README 'Stateless multipart')"),
    (GW, "multipart_*", "*", "header:etag",
     "sealed objects' ETag is the store's ETag of the ciphertext ('-N' for multipart), not an MD5 of the plaintext; every read shows the same value"),
    (GW, "*", "*", "header:etag", "sealed objects' ETag is the store's ETag of the ciphertext with '-1' (multipart: '-N'), not an MD5 of the plaintext, as for SSE-C/SSE-KMS objects on S3; PUT, GET, HEAD, LIST and Copy show the same value"),
    (GW, "*", "*", "result.ETag", "sealed objects' ETag is the store's ETag of the ciphertext with '-1' (multipart: '-N'), not an MD5 of the plaintext, as for SSE-C/SSE-KMS objects on S3; PUT, GET, HEAD, LIST and Copy show the same value"),
    (GW, "*", "*", "result.Contents", "sealed objects' ETag is the store's ETag of the ciphertext with '-1' (multipart: '-N'), not an MD5 of the plaintext, as for SSE-C/SSE-KMS objects on S3; PUT, GET, HEAD, LIST and Copy show the same value"),
    (GW, "*", "*", "result.CopyObjectResult", "sealed objects' ETag is the store's ETag of the ciphertext with '-1' (multipart: '-N'), not an MD5 of the plaintext, as for SSE-C/SSE-KMS objects on S3; PUT, GET, HEAD, LIST and Copy show the same value"),
    (["moto_vs_gateway"], "*", "*", "header:content-type",
     "gateway answers application/octet-stream for objects stored without Content-Type (moto/S3: binary/octet-stream)"),
    (["moto_vs_gateway"], "put_get_head_delete", "get-override", "*",
     "moto ignores response-* overrides on GET; the gateway applies them as S3 does"),
    (["moto_vs_gateway"], "ranges", "bad-syntax", "*",
     "invalid Range: moto (like S3) ignores it; the gateway answers 400 InvalidArgument"),
    (["moto_vs_gateway"], "ranges", "inverted", "*",
     "inverted Range: moto (like S3) ignores it; the gateway answers 400 InvalidArgument"),
    (["moto_vs_gateway"], "odd_keys", "*-13", "*",
     "a key of one space: aws-sdk-s3 (the gateway's client to a remote store) refuses whitespace-only keys before sending, so the gateway answers 400 InvalidArgument saying so (the embedded store takes them)"),
    (["moto_vs_gateway"], "odd_keys", "list*", "result.KeyCount",
     "a key of one space: aws-sdk-s3 (the gateway's client to a remote store) refuses whitespace-only keys before sending, so the gateway answers 400 InvalidArgument saying so (the embedded store takes them)"),
    (["moto_vs_gateway"], "odd_keys", "list*", "result.Contents",
     "a key of one space: aws-sdk-s3 (the gateway's client to a remote store) refuses whitespace-only keys before sending, so the gateway answers 400 InvalidArgument saying so (the embedded store takes them); the other keys differ by ETag and content type as everywhere"),
    (["moto_vs_gateway"], "odd_keys", "put-1025", "*",
     "moto accepts a 1025-byte key; the gateway answers KeyTooLongError as S3 does"),
    (["moto_vs_gateway"], "list_v*", "max0", "*",
     "max-keys=0: moto answers IsTruncated=true; S3 (ceph s3-tests test_bucket_list_maxkeys_zero) and the gateway an empty, untruncated page"),
    (GW, "list_v2", "bad-token", "*",
     "invalid continuation token: store answers a bare 500, the gateway 500 InternalError"),
    (GW, "multipart_*", "list-uploads*", "result.Uploads",
     "ListMultipartUploads shows the store's upload ids: the gateway's id carries the upload's wrapped key, which no S3 listing returns (AbortMultipartUpload accepts a listed id; adding parts needs the id CreateMultipartUpload returned; README 'Stateless multipart')"),
    (GW, "multipart_list_uploads", "list*", "result.Uploads",
     "ListMultipartUploads shows the store's upload ids: the gateway's id carries the upload's wrapped key, which no S3 listing returns (AbortMultipartUpload accepts a listed id; adding parts needs the id CreateMultipartUpload returned; README 'Stateless multipart')"),
    (["moto_vs_gateway"], "multipart_*", "complete-unknown", "*",
     "unknown upload id: moto answers 500, the gateway 404 NoSuchUpload as S3 does"),
    (GW, "upload_part_copy", "copy-part-bad-range", "status",
     "an x-amz-copy-source-range past the source's end: S3 and the gateway answer InvalidRange; moto and the store clip it"),
    (GW, "upload_part_copy", "copy-part-bad-range", "error",
     "an x-amz-copy-source-range past the source's end: S3 and the gateway answer InvalidRange; moto and the store clip it"),
    (GW, "upload_part_copy", "list-parts", "result.NextPartNumberMarker",
     "the gateway refused the copy past the source's end (InvalidRange, as S3), so the upload has one part fewer"),
    (GW, "upload_part_copy", "complete", "*",
     "gateway Complete ETag is computed over the stored parts"),
    (GW, "multipart_*", "*", "*",
     "unknown/aborted upload ids: gateway answers 404 NoSuchUpload or 500 InternalError where the store differs"),
    (GW, "versioning*", "*", "result.Versions",
     "ListObjectVersions shows plaintext sizes and the sealed objects' '-1' ETags, the same values HEAD/GET/LIST show"),
    (GW, "versioning*", "head-*", "header:x-amz-tagging-count",
     "gateway drops x-amz-tagging-count on HEAD (and the store's PUT/Copy answers carry none)"),
    (GW, "versioning*", "copy-from-marker", "error",
     "CopyObject from a missing key: gateway answers NotFound instead of NoSuchKey"),
    (GW, "tagging", "*", "header:x-amz-tagging-count",
     "gateway drops x-amz-tagging-count on HEAD (and the store's PUT/Copy answers carry none)"),
    (["store_vs_gateway"], "object_attributes", "*", "*",
     "the store does not implement GetObjectAttributes (501); the gateway answers it from its own HEAD and the committed layout"),
    (["moto_vs_gateway"], "object_attributes", "*", "result.ETag",
     "sealed objects' ETag is the store's ETag of the ciphertext with '-1' (GetObjectAttributes shows the same value as HEAD)"),
    (GW, "copy_object", "copy-missing", "*",
     "CopyObject from a missing key: gateway answers NotFound instead of NoSuchKey"),
]


def classify(pair: str, scenario: str, step: str, fld: str) -> str:
    for pairs, sc, st, f, reason in RULES:
        if pair in pairs and fnmatch.fnmatchcase(scenario, sc) and fnmatch.fnmatchcase(step, st) and fnmatch.fnmatchcase(fld, f):
            return reason
    return "UNEXPLAINED: look at this difference"


def main() -> int:
    pair, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        run = json.load(f)
    groups: dict[tuple[str, str], tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for s in run["steps"]:
        for d in s["diffs"]:
            reason = classify(pair, s["scenario"], s["step"], d["field"])
            steps, fields = groups[(reason, s["scenario"])]
            steps.add(s["step"])
            fields.add(d["field"])
    print(f"# --- {pair}: generated by gen_exceptions.py, then reviewed ---")
    for (reason, scenario), (steps, fields) in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"\n[[{pair}]]")
        print(f"scenario = {json.dumps(scenario)}")
        print(f"steps = {json.dumps(sorted(steps), ensure_ascii=False)}")
        print(f"fields = {json.dumps(sorted(fields))}")
        print(f"reason = {json.dumps(reason, ensure_ascii=False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
