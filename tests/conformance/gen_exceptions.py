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

S3S_FS = ["moto_vs_store"]
GW = ["moto_vs_gateway", "store_vs_gateway"]
ALL = S3S_FS + GW

# (pairs, scenario glob, step glob, field glob, reason). First match wins.
RULES = [
    # --- moto quirks (A side of moto_* pairs); AWS behaves like B here ----------------------
    (["moto_vs_store"], "put_get_head_delete", "get-override", "header:*",
     "moto ignores response-content-type/-disposition/-cache-control overrides on GET; s3s-fs honours them as AWS does"),
    (["moto_vs_store"], "conditionals", "*-ifmatch-star", "*",
     "moto answers 412 to If-Match: * on an existing object; s3s-fs ignores conditionals altogether"),
    (["moto_vs_store"], "list_v1", "*", "result.NextMarker",
     "moto's ListObjects NextMarker is an MD5 of the key (quirk); s3s-fs returns the last key as S3 does"),
    (["moto_vs_store"], "copy_conditions", "*", "*",
     "moto ignores x-amz-copy-source-if-* on CopyObject; s3s-fs enforces them as S3 does"),
    (["moto_vs_store"], "ranges", "bad-syntax", "*",
     "invalid Range syntax: moto (like S3) ignores it and answers 200; s3s-fs answers 400 InvalidArgument"),
    (["moto_vs_store"], "ranges", "inverted", "*",
     "inverted Range: moto (like S3) ignores it and answers 200; s3s-fs answers 400 InvalidArgument"),
    (["moto_vs_store"], "odd_keys", "put-1025", "*",
     "moto accepts a 1025-byte key; s3s-fs answers KeyTooLongError as S3 does"),
    (["moto_vs_store", "moto_vs_gateway"], "*", "copy-*", "header:etag",
     "moto sends an ETag header on CopyObject answers; S3 (and s3s-fs, the gateway) put it only in the XML body"),
    # --- s3s-fs (today's embedded store) ------------------------------------------------
    (S3S_FS, "*", "*", "header:accept-ranges",
     "s3s-fs sends no Accept-Ranges: bytes on GET/HEAD"),
    (S3S_FS, "*", "*", "header:content-type",
     "s3s-fs answers no Content-Type for objects stored without one (S3: binary/octet-stream)"),
    (S3S_FS, "missing_bucket", "*", "*",
     "s3s-fs: PUT into a missing bucket creates it, GET there says NoSuchKey, HEAD bucket has no x-amz-bucket-region"),
    (S3S_FS, "odd_keys", "*", "*",
     "s3s-fs maps keys to file paths: 'x' beside 'x/y', 'a//b', '/lead', 'dir/' with a body, '.', and 1024-byte keys fail (500/UnexpectedContent) or vanish; listings omit ETag/StorageClass and the empty Prefix"),
    (S3S_FS, "list_v*", "put-*", "*",
     "s3s-fs maps keys to file paths: a key that is also a prefix ('a' and 'a/b') or 'c/' with a body cannot be stored"),
    (S3S_FS, "list_v*", "*", "*",
     "s3s-fs listings: entries lack ETag/StorageClass, empty Prefix omitted, keys it could not store missing, non-'/' delimiters give duplicate CommonPrefixes, bad continuation token accepted"),
    (S3S_FS, "delete_objects", "*", "result.*",
     "s3s-fs listings: entries lack ETag/StorageClass and the empty Prefix is omitted"),
    (S3S_FS, "ranges", "suffix-1", "*",
     "s3s-fs: a suffix range longer than the object answers 500 instead of the whole object"),
    (S3S_FS, "ranges", "suffix-huge", "*",
     "s3s-fs: a suffix range longer than the object answers 500 instead of the whole object"),
    (S3S_FS, "ranges", "head-range", "*",
     "s3s-fs ignores Range on HEAD (S3 answers 206 with Content-Range)"),
    (S3S_FS, "conditionals", "*", "*",
     "s3s-fs ignores If-Match/If-None-Match/If-Modified-Since/If-Unmodified-Since on GET and HEAD"),
    (S3S_FS, "copy_object", "copy-self-nochange", "*",
     "s3s-fs allows CopyObject onto itself without changes (S3: 400 InvalidRequest)"),
    (S3S_FS, "multipart_*", "list-uploads*", "*",
     "s3s-fs does not implement ListMultipartUploads (501)"),
    (S3S_FS, "multipart_list_uploads", "list*", "*",
     "s3s-fs does not implement ListMultipartUploads (501)"),
    (S3S_FS, "multipart_*", "list-parts*", "*",
     "s3s-fs ListParts: no markers/MaxParts/IsTruncated/Initiator/Owner/StorageClass, parts unordered and without ETag, ignores max-parts and part-number-marker, lists aborted uploads"),
    (S3S_FS, "upload_part_copy", "list-parts", "*",
     "s3s-fs ListParts: no markers/Owner/StorageClass, parts without ETag"),
    (S3S_FS, "multipart_*", "*", "*",
     "s3s-fs CompleteMultipartUpload checks neither part ETags, order nor minimum size, removes the upload on any Complete (retries then AccessDenied), has no version id, Abort/UploadPart of unknown upload ids differ"),
    (S3S_FS, "upload_part_copy", "*", "*",
     "s3s-fs UploadPartCopy: no LastModified in CopyPartResult, out-of-range CopySourceRange accepted"),
    (S3S_FS, "tagging", "*", "*",
     "s3s-fs has no object tagging (no x-amz-tagging-count, GetObjectTagging empty)"),
    (S3S_FS, "versioning", "*", "*",
     "s3s-fs has no versioning (no version ids, delete markers or ListObjectVersions)"),
    (S3S_FS, "object_attributes", "*", "*",
     "s3s-fs GetObjectAttributes answers without ObjectSize/StorageClass/LastModified"),
    (S3S_FS, "copy_object", "*", "*",
     "s3s-fs CopyObject differences (see fields)"),
    # --- the gateway ----------------------------------------------------------------------
    (GW, "*", "*", "header:x-amz-meta-*",
     "gateway adds x-amz-meta-uploaded-by (the proxy user) to every object it writes"),
    (GW, "*", "*", "result.Size",
     "gateway's PutObject answer carries x-amz-object-size (boto3 'Size'); the store's does not"),
    (GW, "multipart_*", "head-part-*", "header:content-length",
     "BUG gateway: HEAD ?partNumber= answers the stored (ciphertext) part length"),
    (GW, "multipart_*", "*", "header:etag",
     "gateway reads show the stored object's ETag"),
    (GW, "*", "*", "header:etag",
     "BUG gateway: GET/HEAD show the stored object's ETag '<md5>-1', not the plaintext MD5 its PUT answered (DESIGN §3: one ETag for life)"),
    (GW, "*", "*", "result.Contents",
     "BUG gateway: listings show the stored object's '<md5>-1' ETags, not the PUT's"),
    (GW, "*", "*", "result.CopyObjectResult",
     "BUG gateway: CopyObject answers the stored '<md5>-1' ETag (and copy-source conditions compare against it)"),
    (GW, "conditionals", "*", "*",
     "BUG gateway: If-Match/If-None-Match compare against the stored '-1' ETag, so the PUT's ETag fails If-Match and misses If-None-Match"),
    (GW, "copy_conditions", "*", "*",
     "BUG gateway: x-amz-copy-source-if-match/none-match compare against the stored '-1' ETag"),
    (["moto_vs_gateway"], "*", "*", "header:content-type",
     "gateway answers application/octet-stream for objects stored without Content-Type (moto/S3: binary/octet-stream)"),
    (["moto_vs_gateway"], "put_get_head_delete", "get-override", "*",
     "moto ignores response-* overrides on GET; the gateway applies them as S3 does"),
    (["store_vs_gateway"], "*", "*", "header:accept-ranges",
     "the gateway sends Accept-Ranges: bytes; s3s-fs does not"),
    (["store_vs_gateway"], "*", "*", "header:content-type",
     "gateway answers application/octet-stream where s3s-fs answers no Content-Type"),
    (["moto_vs_gateway"], "ranges", "bad-syntax", "*",
     "invalid Range: moto (like S3) ignores it; the gateway answers 400 InvalidArgument"),
    (["moto_vs_gateway"], "ranges", "inverted", "*",
     "inverted Range: moto (like S3) ignores it; the gateway answers 400 InvalidArgument"),
    (GW, "ranges", "head-range", "*",
     "gateway ignores Range on HEAD (S3 answers 206 with Content-Range)"),
    (["store_vs_gateway"], "ranges", "suffix-*", "*",
     "suffix range longer than the object: s3s-fs answers 500, the gateway clamps correctly (206)"),
    (["moto_vs_gateway"], "odd_keys", "put-1025", "*",
     "moto accepts a 1025-byte key; the gateway answers KeyTooLongError as S3 does"),
    (["store_vs_gateway"], "odd_keys", "*-dot", "*",
     "key '.': s3s-fs answers 500, the gateway 404 NoSuchKey"),
    (GW, "list_v*", "max0", "*",
     "BUG gateway: max-keys=0 answers 500 InternalError"),
    (GW, "list_v2", "bad-token", "*",
     "invalid continuation token: store answers a bare 500, the gateway 500 InternalError"),
    (GW, "multipart_*", "list-uploads*", "result.Uploads",
     "BUG gateway: ListMultipartUploads shows the store's upload ids, not the ids CreateMultipartUpload returned"),
    (GW, "multipart_list_uploads", "list*", "result.Uploads",
     "BUG gateway: ListMultipartUploads shows the store's upload ids, not the ids CreateMultipartUpload returned"),
    (["store_vs_gateway"], "multipart_*", "list-parts*", "result.Parts",
     "s3s-fs ListParts lists parts in directory order (varies run to run), the gateway sorts by part number"),
    (GW, "*", "list-parts*", "result.Parts",
     "BUG gateway: ListParts shows the stored (ciphertext) part ETags, not those UploadPart answered"),
    (GW, "multipart_*", "complete*", "*",
     "BUG gateway: CompleteMultipartUpload ignores the client's part ETags (wrong/stale ETag accepted, upload then gone: NoSuchUpload), small parts give InvalidPart instead of EntityTooSmall"),
    (GW, "upload_part_copy", "complete", "*",
     "gateway Complete ETag is computed over the stored parts"),
    (GW, "multipart_*", "*", "*",
     "unknown/aborted upload ids: gateway answers 404 NoSuchUpload or 500 InternalError where the store differs"),
    (GW, "versioning", "list-versions*", "result.Versions",
     "BUG gateway: ListObjectVersions shows stored (ciphertext) Size and ETag"),
    (GW, "tagging", "*", "header:x-amz-tagging-count",
     "gateway drops x-amz-tagging-count on HEAD (and the store's PUT/Copy answers carry none)"),
    (GW, "object_attributes", "*", "*",
     "gateway does not implement GetObjectAttributes (501)"),
    (GW, "copy_object", "copy-self-nochange", "*",
     "CopyObject onto itself without change: moto InvalidRequest (as S3), gateway allows it"),
    (["store_vs_gateway"], "upload_part_copy", "copy-part-*", "*",
     "UploadPartCopy: s3s-fs answers no LastModified and accepts an out-of-range CopySourceRange; the gateway gives LastModified and rejects it"),
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
