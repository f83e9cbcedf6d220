"""Scripted S3 scenarios for the differential harness.

Each scenario is `fn(s)` with `s` a harness `Session`: `s.bucket()` makes a fresh bucket,
`s.call(step, op, **params)` runs one boto3 operation and records it under a step name unique
within the scenario. Scenarios run once per endpoint, so they must be deterministic: data
comes from `blob()`, and anything endpoint-specific (upload ids, version ids, dates) is read
from earlier answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib

SCENARIOS = []


def scenario(fn):
    SCENARIOS.append((fn.__name__, fn))
    return fn


def blob(n: int, seed: int = 1) -> bytes:
    """Deterministic bytes of length n."""
    out = bytearray()
    c = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{c}".encode()).digest()
        c += 1
    return bytes(out[:n])


MIB = 1024 * 1024
PART = 5 * MIB


# -- basic object operations -----------------------------------------------------------


@scenario
def put_get_head_delete(s):
    b = s.bucket()
    s.call(
        "put",
        "put_object",
        Bucket=b,
        Key="obj",
        Body=b"hello world",
        Metadata={"color": "blue", "Mixed-Case": "Value With Spaces"},
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="identity",
        ContentDisposition='attachment; filename="x.txt"',
        ContentLanguage="en-GB",
        CacheControl="max-age=60",
        Expires=dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
    )
    s.call("get", "get_object", Bucket=b, Key="obj")
    s.call("head", "head_object", Bucket=b, Key="obj")
    s.call(
        "get-override",
        "get_object",
        Bucket=b,
        Key="obj",
        ResponseContentType="application/x-test",
        ResponseContentDisposition="inline",
        ResponseCacheControl="no-cache",
    )
    s.call("put-overwrite", "put_object", Bucket=b, Key="obj", Body=b"second")
    s.call("get-overwritten", "get_object", Bucket=b, Key="obj")
    s.call("delete", "delete_object", Bucket=b, Key="obj")
    s.call("get-deleted", "get_object", Bucket=b, Key="obj")
    s.call("head-deleted", "head_object", Bucket=b, Key="obj")
    s.call("delete-missing", "delete_object", Bucket=b, Key="never-was")


@scenario
def empty_and_default_type(s):
    b = s.bucket()
    s.call("put-empty", "put_object", Bucket=b, Key="empty", Body=b"")
    s.call("get-empty", "get_object", Bucket=b, Key="empty")
    s.call("head-empty", "head_object", Bucket=b, Key="empty")
    s.call("put-notype", "put_object", Bucket=b, Key="notype", Body=b"abc")
    s.call("head-notype", "head_object", Bucket=b, Key="notype")


@scenario
def missing_bucket(s):
    b = s.bucket()
    s.call("get-nobucket", "get_object", Bucket=b + "-nope", Key="k")
    s.call("put-nobucket", "put_object", Bucket=b + "-nope", Key="k", Body=b"x")
    s.call("list-nobucket", "list_objects_v2", Bucket=b + "-nope")
    s.call("head-bucket", "head_bucket", Bucket=b)
    s.call("head-nobucket", "head_bucket", Bucket=b + "-nope")


# -- odd keys ---------------------------------------------------------------------------

ODD_KEYS = [
    "a+b",
    "a b",
    "%25",
    "%2F",
    "a//b",
    "x",
    "x/y",
    "dir/",
    "/lead",
    "ünï/cødé ✓",
    "tab\there",
    "q?s=1&t=2#frag",
    "k" * 1024,
    " ",
    "trailing ",
]


@scenario
def odd_keys(s):
    b = s.bucket()
    for i, k in enumerate(ODD_KEYS):
        s.call(f"put-{i}", "put_object", Bucket=b, Key=k, Body=f"body {i}".encode())
    for i, k in enumerate(ODD_KEYS):
        s.call(f"get-{i}", "get_object", Bucket=b, Key=k)
    s.call("list", "list_objects_v2", Bucket=b)
    s.call("list-url", "list_objects_v2", Bucket=b, EncodingType="url")
    s.call("list-v1-url", "list_objects", Bucket=b, EncodingType="url")
    s.call("put-1025", "put_object", Bucket=b, Key="k" * 1025, Body=b"too long")
    s.call("put-dot", "put_object", Bucket=b, Key=".", Body=b"dot")
    s.call("get-dot", "get_object", Bucket=b, Key=".")


# -- ranges -----------------------------------------------------------------------------

RANGE_SIZES = [1, 65535, 65536, 65537, 200000]


@scenario
def ranges(s):
    b = s.bucket()
    for n in RANGE_SIZES:
        s.call(f"put-{n}", "put_object", Bucket=b, Key=f"r{n}", Body=blob(n, n))
    for n in RANGE_SIZES:
        k = f"r{n}"
        s.call(f"first-{n}", "get_object", Bucket=b, Key=k, Range="bytes=0-0")
        s.call(f"last-{n}", "get_object", Bucket=b, Key=k, Range=f"bytes={n - 1}-{n - 1}")
        s.call(f"suffix-{n}", "get_object", Bucket=b, Key=k, Range="bytes=-100")
        s.call(f"open-{n}", "get_object", Bucket=b, Key=k, Range=f"bytes={n // 2}-")
        s.call(f"past-end-{n}", "get_object", Bucket=b, Key=k, Range=f"bytes={n}-")
    s.call("straddle-65536", "get_object", Bucket=b, Key="r200000", Range="bytes=65530-65545")
    s.call("exact-seg", "get_object", Bucket=b, Key="r200000", Range="bytes=65536-131071")
    s.call("clamped-end", "get_object", Bucket=b, Key="r65537", Range="bytes=65000-999999")
    s.call("suffix-huge", "get_object", Bucket=b, Key="r65535", Range="bytes=-999999")
    s.call("head-range", "head_object", Bucket=b, Key="r65537", Range="bytes=10-19")
    s.call("bad-syntax", "get_object", Bucket=b, Key="r65537", Range="bytes=abc")
    s.call("inverted", "get_object", Bucket=b, Key="r65537", Range="bytes=20-10")
    s.call("put-empty", "put_object", Bucket=b, Key="empty", Body=b"")
    s.call("empty-range", "get_object", Bucket=b, Key="empty", Range="bytes=0-0")


# -- conditional requests ---------------------------------------------------------------


@scenario
def conditionals(s):
    b = s.bucket()
    put = s.call("put", "put_object", Bucket=b, Key="c", Body=b"conditional body")
    etag = put.get("ETag", '"none"')
    head = s.call("head", "head_object", Bucket=b, Key="c")
    lm = head.get("LastModified") or dt.datetime.now(dt.timezone.utc)
    before = lm - dt.timedelta(days=1)
    after = lm + dt.timedelta(days=1)
    for op in ("get_object", "head_object"):
        o = op.split("_")[0]
        s.call(f"{o}-ifmatch-ok", op, Bucket=b, Key="c", IfMatch=etag)
        s.call(f"{o}-ifmatch-star", op, Bucket=b, Key="c", IfMatch="*")
        s.call(f"{o}-ifmatch-bad", op, Bucket=b, Key="c", IfMatch='"0123"')
        s.call(f"{o}-ifnonematch-hit", op, Bucket=b, Key="c", IfNoneMatch=etag)
        s.call(f"{o}-ifnonematch-miss", op, Bucket=b, Key="c", IfNoneMatch='"0123"')
        s.call(f"{o}-ims-before", op, Bucket=b, Key="c", IfModifiedSince=before)
        s.call(f"{o}-ims-after", op, Bucket=b, Key="c", IfModifiedSince=after)
        s.call(f"{o}-ius-before", op, Bucket=b, Key="c", IfUnmodifiedSince=before)
        s.call(f"{o}-ius-after", op, Bucket=b, Key="c", IfUnmodifiedSince=after)
        # RFC 7232 precedence: If-Match passes, so If-Unmodified-Since is ignored.
        s.call(f"{o}-ifmatch-ius", op, Bucket=b, Key="c", IfMatch=etag, IfUnmodifiedSince=before)
        # If-None-Match fails the request (304) regardless of If-Modified-Since.
        s.call(f"{o}-inm-ims", op, Bucket=b, Key="c", IfNoneMatch=etag, IfModifiedSince=before)
    s.call("get-ifmatch-range", "get_object", Bucket=b, Key="c", IfMatch=etag, Range="bytes=2-5")
    s.call("get-ifmatch-missing", "get_object", Bucket=b, Key="nope", IfMatch=etag)


@scenario
def copy_conditions(s):
    b = s.bucket()
    put = s.call("put", "put_object", Bucket=b, Key="src", Body=b"copy me")
    etag = put.get("ETag", '"none"')
    head = s.call("head", "head_object", Bucket=b, Key="src")
    lm = head.get("LastModified") or dt.datetime.now(dt.timezone.utc)
    before = lm - dt.timedelta(days=1)
    after = lm + dt.timedelta(days=1)
    src = {"Bucket": b, "Key": "src"}
    cases = [
        ("ifmatch-ok", {"CopySourceIfMatch": etag}),
        ("ifmatch-bad", {"CopySourceIfMatch": '"0123"'}),
        ("ifnonematch-hit", {"CopySourceIfNoneMatch": etag}),
        ("ifnonematch-miss", {"CopySourceIfNoneMatch": '"0123"'}),
        ("ims-before", {"CopySourceIfModifiedSince": before}),
        ("ims-after", {"CopySourceIfModifiedSince": after}),
        ("ius-before", {"CopySourceIfUnmodifiedSince": before}),
        ("ius-after", {"CopySourceIfUnmodifiedSince": after}),
    ]
    for name, cond in cases:
        s.call(f"copy-{name}", "copy_object", Bucket=b, Key=f"dst-{name}", CopySource=src, **cond)
    s.call("list", "list_objects_v2", Bucket=b)


# -- copy -------------------------------------------------------------------------------


@scenario
def copy_object(s):
    b = s.bucket()
    b2 = s.bucket("other")
    s.call(
        "put",
        "put_object",
        Bucket=b,
        Key="src",
        Body=blob(70000, 7),
        Metadata={"orig": "yes"},
        ContentType="image/png",
    )
    src = {"Bucket": b, "Key": "src"}
    s.call("copy-default", "copy_object", Bucket=b, Key="c1", CopySource=src)
    s.call("head-c1", "head_object", Bucket=b, Key="c1")
    s.call("get-c1", "get_object", Bucket=b, Key="c1")
    s.call(
        "copy-copy",
        "copy_object",
        Bucket=b,
        Key="c2",
        CopySource=src,
        MetadataDirective="COPY",
        Metadata={"ignored": "1"},
    )
    s.call("head-c2", "head_object", Bucket=b, Key="c2")
    s.call(
        "copy-replace",
        "copy_object",
        Bucket=b,
        Key="c3",
        CopySource=src,
        MetadataDirective="REPLACE",
        Metadata={"new": "2"},
        ContentType="text/csv",
    )
    s.call("head-c3", "head_object", Bucket=b, Key="c3")
    s.call("copy-cross-bucket", "copy_object", Bucket=b2, Key="x", CopySource=src)
    s.call("get-cross", "get_object", Bucket=b2, Key="x")
    s.call("copy-self-nochange", "copy_object", Bucket=b, Key="src", CopySource=src)
    s.call(
        "copy-self-replace",
        "copy_object",
        Bucket=b,
        Key="src",
        CopySource=src,
        MetadataDirective="REPLACE",
        Metadata={"changed": "1"},
    )
    s.call("head-self", "head_object", Bucket=b, Key="src")
    s.call("copy-missing", "copy_object", Bucket=b, Key="c4", CopySource={"Bucket": b, "Key": "nope"})
    s.call("put-odd", "put_object", Bucket=b, Key="a b+c%/d", Body=b"odd")
    s.call("copy-odd", "copy_object", Bucket=b, Key="odd-copy", CopySource={"Bucket": b, "Key": "a b+c%/d"})
    s.call("get-odd-copy", "get_object", Bucket=b, Key="odd-copy")


# -- listings ---------------------------------------------------------------------------

LIST_KEYS = [
    "a",
    "a/b",
    "a/b/c",
    "a/c",
    "a+b",
    "a b",
    "b",
    "c/",
    "c/d",
    "c/e/f",
    "d%e",
    "é/1",
    "z",
]


def _fill(s, b):
    for i, k in enumerate(LIST_KEYS):
        s.call(f"put-{i}", "put_object", Bucket=b, Key=k, Body=f"{i}".encode() * (i + 1))


@scenario
def list_v2(s):
    b = s.bucket()
    _fill(s, b)
    s.call("all", "list_objects_v2", Bucket=b)
    s.call("prefix", "list_objects_v2", Bucket=b, Prefix="a/")
    s.call("prefix-none", "list_objects_v2", Bucket=b, Prefix="nothing")
    s.call("delim", "list_objects_v2", Bucket=b, Delimiter="/")
    s.call("prefix-delim", "list_objects_v2", Bucket=b, Prefix="a/", Delimiter="/")
    s.call("prefix-nodelim-c", "list_objects_v2", Bucket=b, Prefix="c", Delimiter="/")
    s.call("delim-other", "list_objects_v2", Bucket=b, Delimiter="b")
    s.call("start-after", "list_objects_v2", Bucket=b, StartAfter="a/b")
    s.call("start-after-delim", "list_objects_v2", Bucket=b, StartAfter="a", Delimiter="/")
    s.call("max0", "list_objects_v2", Bucket=b, MaxKeys=0)
    s.call("max1", "list_objects_v2", Bucket=b, MaxKeys=1)
    s.call("max1-delim", "list_objects_v2", Bucket=b, MaxKeys=1, Delimiter="/")
    s.call("fetch-owner", "list_objects_v2", Bucket=b, Prefix="c", FetchOwner=True)
    s.call("url", "list_objects_v2", Bucket=b, EncodingType="url")
    s.call("url-delim", "list_objects_v2", Bucket=b, EncodingType="url", Delimiter="/", Prefix="é/")
    # Pagination by continuation token, 3 at a time, whole walk recorded.
    token, pages, page = None, [], 0
    while page < 10:
        kw = {"ContinuationToken": token} if token else {}
        r = s.call(f"page-{page}", "list_objects_v2", Bucket=b, MaxKeys=3, Delimiter="/", **kw)
        pages.append([c.get("Key") for c in r.get("Contents", [])] + [p.get("Prefix") for p in r.get("CommonPrefixes", [])])
        page += 1
        if not r.get("IsTruncated"):
            break
        token = r.get("NextContinuationToken")
    s.note("pages", pages)
    s.call("bad-token", "list_objects_v2", Bucket=b, ContinuationToken="not-a-token")


@scenario
def list_v1(s):
    b = s.bucket()
    _fill(s, b)
    s.call("all", "list_objects", Bucket=b)
    s.call("prefix", "list_objects", Bucket=b, Prefix="a/")
    s.call("delim", "list_objects", Bucket=b, Delimiter="/")
    s.call("prefix-delim", "list_objects", Bucket=b, Prefix="c/", Delimiter="/")
    s.call("marker", "list_objects", Bucket=b, Marker="a/c")
    s.call("marker-delim", "list_objects", Bucket=b, Marker="a", Delimiter="/")
    s.call("max0", "list_objects", Bucket=b, MaxKeys=0)
    s.call("max1", "list_objects", Bucket=b, MaxKeys=1)
    s.call("max2-delim", "list_objects", Bucket=b, MaxKeys=2, Delimiter="/")
    s.call("url", "list_objects", Bucket=b, EncodingType="url")
    marker, page = None, 0
    while page < 10:
        kw = {"Marker": marker} if marker else {}
        r = s.call(f"page-{page}", "list_objects", Bucket=b, MaxKeys=4, **kw)
        page += 1
        if not r.get("IsTruncated"):
            break
        cs = r.get("Contents") or []
        marker = r.get("NextMarker") or (cs[-1]["Key"] if cs else None)
        if not marker:
            break


# -- DeleteObjects ----------------------------------------------------------------------


@scenario
def delete_objects(s):
    b = s.bucket()
    for k in ("d1", "d2", "d 3", "d4"):
        s.call(f"put-{k}", "put_object", Bucket=b, Key=k, Body=b"x")
    s.call(
        "delete-verbose",
        "delete_objects",
        Bucket=b,
        Delete={"Objects": [{"Key": "d1"}, {"Key": "d 3"}, {"Key": "missing"}]},
    )
    s.call("list-after-verbose", "list_objects_v2", Bucket=b)
    s.call(
        "delete-quiet",
        "delete_objects",
        Bucket=b,
        Delete={"Objects": [{"Key": "d2"}, {"Key": "missing2"}], "Quiet": True},
    )
    s.call("list-after-quiet", "list_objects_v2", Bucket=b)
    s.call("delete-empty-list", "delete_objects", Bucket=b, Delete={"Objects": []})


# -- multipart --------------------------------------------------------------------------


def _etags(resps):
    return [{"PartNumber": i + 1, "ETag": r.get("ETag", '"x"')} for i, r in enumerate(resps)]


@scenario
def multipart_basic(s):
    b = s.bucket()
    r = s.call("create", "create_multipart_upload", Bucket=b, Key="mp", Metadata={"m": "1"}, ContentType="application/x-mp")
    uid = r.get("UploadId", "none")
    p1 = s.call("part-1", "upload_part", Bucket=b, Key="mp", UploadId=uid, PartNumber=1, Body=blob(PART, 1))
    p2 = s.call("part-2", "upload_part", Bucket=b, Key="mp", UploadId=uid, PartNumber=2, Body=blob(12345, 2))
    s.call("list-parts", "list_parts", Bucket=b, Key="mp", UploadId=uid)
    s.call("list-parts-max1", "list_parts", Bucket=b, Key="mp", UploadId=uid, MaxParts=1)
    s.call("list-parts-marker", "list_parts", Bucket=b, Key="mp", UploadId=uid, PartNumberMarker=1)
    s.call("list-uploads", "list_multipart_uploads", Bucket=b)
    parts = _etags([p1, p2])
    s.call(
        "complete-wrong-etag",
        "complete_multipart_upload",
        Bucket=b,
        Key="mp",
        UploadId=uid,
        MultipartUpload={"Parts": [parts[0], {"PartNumber": 2, "ETag": '"00000000000000000000000000000000"'}]},
    )
    s.call(
        "complete-out-of-order",
        "complete_multipart_upload",
        Bucket=b,
        Key="mp",
        UploadId=uid,
        MultipartUpload={"Parts": [parts[1], parts[0]]},
    )
    s.call(
        "complete-missing-part",
        "complete_multipart_upload",
        Bucket=b,
        Key="mp",
        UploadId=uid,
        MultipartUpload={"Parts": [parts[0], {"PartNumber": 3, "ETag": parts[1]["ETag"]}]},
    )
    s.call("complete", "complete_multipart_upload", Bucket=b, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    s.call("complete-again", "complete_multipart_upload", Bucket=b, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    s.call("head", "head_object", Bucket=b, Key="mp")
    s.call("get", "get_object", Bucket=b, Key="mp")
    s.call("get-part-1", "get_object", Bucket=b, Key="mp", PartNumber=1)
    s.call("head-part-2", "head_object", Bucket=b, Key="mp", PartNumber=2)
    s.call("get-part-3", "get_object", Bucket=b, Key="mp", PartNumber=3)
    s.call("get-range-across", "get_object", Bucket=b, Key="mp", Range=f"bytes={PART - 5}-{PART + 4}")
    s.call("list-parts-after", "list_parts", Bucket=b, Key="mp", UploadId=uid)
    s.call("list-uploads-after", "list_multipart_uploads", Bucket=b)


@scenario
def multipart_too_small(s):
    b = s.bucket()
    r = s.call("create", "create_multipart_upload", Bucket=b, Key="small")
    uid = r.get("UploadId", "none")
    p1 = s.call("part-1", "upload_part", Bucket=b, Key="small", UploadId=uid, PartNumber=1, Body=b"tiny")
    p2 = s.call("part-2", "upload_part", Bucket=b, Key="small", UploadId=uid, PartNumber=2, Body=b"tail")
    s.call("complete-small", "complete_multipart_upload", Bucket=b, Key="small", UploadId=uid, MultipartUpload={"Parts": _etags([p1, p2])})
    r = s.call("create-5e6", "create_multipart_upload", Bucket=b, Key="five")
    uid2 = r.get("UploadId", "none")
    q1 = s.call("part5e6-1", "upload_part", Bucket=b, Key="five", UploadId=uid2, PartNumber=1, Body=blob(5_000_000, 3))
    q2 = s.call("part5e6-2", "upload_part", Bucket=b, Key="five", UploadId=uid2, PartNumber=2, Body=blob(5_000_000, 4))
    s.call("complete-5e6", "complete_multipart_upload", Bucket=b, Key="five", UploadId=uid2, MultipartUpload={"Parts": _etags([q1, q2])})
    s.call("abort-5e6", "abort_multipart_upload", Bucket=b, Key="five", UploadId=uid2)
    s.call("list-uploads", "list_multipart_uploads", Bucket=b)
    s.call("abort", "abort_multipart_upload", Bucket=b, Key="small", UploadId=uid)
    s.call("abort-again", "abort_multipart_upload", Bucket=b, Key="small", UploadId=uid)
    s.call("part-after-abort", "upload_part", Bucket=b, Key="small", UploadId=uid, PartNumber=1, Body=b"x")
    s.call("list-parts-after-abort", "list_parts", Bucket=b, Key="small", UploadId=uid)
    s.call("list-uploads-after", "list_multipart_uploads", Bucket=b)
    s.call("get-none", "get_object", Bucket=b, Key="small")


@scenario
def multipart_single_part(s):
    b = s.bucket()
    r = s.call("create", "create_multipart_upload", Bucket=b, Key="one")
    uid = r.get("UploadId", "none")
    p = s.call("part-1", "upload_part", Bucket=b, Key="one", UploadId=uid, PartNumber=1, Body=b"only part")
    p1b = s.call("part-1-again", "upload_part", Bucket=b, Key="one", UploadId=uid, PartNumber=1, Body=b"only part v2")
    s.call("complete-stale-etag", "complete_multipart_upload", Bucket=b, Key="one", UploadId=uid, MultipartUpload={"Parts": _etags([p])})
    s.call("complete", "complete_multipart_upload", Bucket=b, Key="one", UploadId=uid, MultipartUpload={"Parts": _etags([p1b])})
    s.call("get", "get_object", Bucket=b, Key="one")
    s.call("head-part-1", "head_object", Bucket=b, Key="one", PartNumber=1)
    s.call("unknown-upload", "upload_part", Bucket=b, Key="one", UploadId="no-such-upload", PartNumber=1, Body=b"x")
    s.call("complete-unknown", "complete_multipart_upload", Bucket=b, Key="one", UploadId="no-such-upload", MultipartUpload={"Parts": _etags([p])})


@scenario
def multipart_list_uploads(s):
    b = s.bucket()
    for k in ("u/a", "u/b", "u/b", "v/c", "w"):
        s.call(f"create-{k}-{len(s.steps)}", "create_multipart_upload", Bucket=b, Key=k)
    s.call("list", "list_multipart_uploads", Bucket=b)
    s.call("list-prefix", "list_multipart_uploads", Bucket=b, Prefix="u/")
    s.call("list-delim", "list_multipart_uploads", Bucket=b, Delimiter="/")
    s.call("list-max1", "list_multipart_uploads", Bucket=b, MaxUploads=1)
    s.call("list-keymarker", "list_multipart_uploads", Bucket=b, KeyMarker="u/b")


@scenario
def upload_part_copy(s):
    b = s.bucket()
    s.call("put-src", "put_object", Bucket=b, Key="src", Body=blob(PART + 100000, 9))
    r = s.call("create", "create_multipart_upload", Bucket=b, Key="dst")
    uid = r.get("UploadId", "none")
    src = {"Bucket": b, "Key": "src"}
    c1 = s.call("copy-part-1", "upload_part_copy", Bucket=b, Key="dst", UploadId=uid, PartNumber=1, CopySource=src, CopySourceRange=f"bytes=0-{PART - 1}")
    c2 = s.call("copy-part-2", "upload_part_copy", Bucket=b, Key="dst", UploadId=uid, PartNumber=2, CopySource=src, CopySourceRange="bytes=100-65636")
    s.call("copy-part-bad-range", "upload_part_copy", Bucket=b, Key="dst", UploadId=uid, PartNumber=3, CopySource=src, CopySourceRange=f"bytes=0-{PART + 200000}")
    s.call("list-parts", "list_parts", Bucket=b, Key="dst", UploadId=uid)
    parts = [
        {"PartNumber": 1, "ETag": c1.get("CopyPartResult", {}).get("ETag", '"x"')},
        {"PartNumber": 2, "ETag": c2.get("CopyPartResult", {}).get("ETag", '"x"')},
    ]
    s.call("complete", "complete_multipart_upload", Bucket=b, Key="dst", UploadId=uid, MultipartUpload={"Parts": parts})
    s.call("get", "get_object", Bucket=b, Key="dst")
    s.call("get-tail", "get_object", Bucket=b, Key="dst", Range="bytes=-70000")


# -- tagging ----------------------------------------------------------------------------


@scenario
def tagging(s):
    b = s.bucket()
    s.call("put-tagged", "put_object", Bucket=b, Key="t", Body=b"tagged", Tagging="a=1&b=two%20words")
    s.call("get-tagging", "get_object_tagging", Bucket=b, Key="t")
    s.call("get-count", "get_object", Bucket=b, Key="t")
    s.call("head-count", "head_object", Bucket=b, Key="t")
    s.call("put-tagging", "put_object_tagging", Bucket=b, Key="t", Tagging={"TagSet": [{"Key": "x", "Value": "y"}]})
    s.call("get-tagging-2", "get_object_tagging", Bucket=b, Key="t")
    s.call("copy-tags", "copy_object", Bucket=b, Key="t2", CopySource={"Bucket": b, "Key": "t"})
    s.call("get-tagging-copy", "get_object_tagging", Bucket=b, Key="t2")
    s.call(
        "copy-replace-tags",
        "copy_object",
        Bucket=b,
        Key="t3",
        CopySource={"Bucket": b, "Key": "t"},
        TaggingDirective="REPLACE",
        Tagging="new=1",
    )
    s.call("get-tagging-replaced", "get_object_tagging", Bucket=b, Key="t3")
    s.call("delete-tagging", "delete_object_tagging", Bucket=b, Key="t")
    s.call("get-tagging-3", "get_object_tagging", Bucket=b, Key="t")
    s.call("tagging-missing", "get_object_tagging", Bucket=b, Key="nope")


# -- versioning -------------------------------------------------------------------------


@scenario
def versioning(s):
    b = s.bucket()
    s.call("status-initial", "get_bucket_versioning", Bucket=b)
    s.call("put-pre", "put_object", Bucket=b, Key="v", Body=b"pre-versioning")
    s.call("enable", "put_bucket_versioning", Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s.call("status-enabled", "get_bucket_versioning", Bucket=b)
    v1 = s.call("put-v1", "put_object", Bucket=b, Key="v", Body=b"one").get("VersionId", "none")
    v2 = s.call("put-v2", "put_object", Bucket=b, Key="v", Body=b"two two").get("VersionId", "none")
    s.call("get-latest", "get_object", Bucket=b, Key="v")
    s.call("get-v1", "get_object", Bucket=b, Key="v", VersionId=v1)
    s.call("head-v1", "head_object", Bucket=b, Key="v", VersionId=v1)
    s.call("get-null", "get_object", Bucket=b, Key="v", VersionId="null")
    s.call("list-versions", "list_object_versions", Bucket=b)
    dm = s.call("delete-marker", "delete_object", Bucket=b, Key="v")
    s.call("get-after-marker", "get_object", Bucket=b, Key="v")
    s.call("head-after-marker", "head_object", Bucket=b, Key="v")
    s.call("get-v2-after-marker", "get_object", Bucket=b, Key="v", VersionId=v2)
    s.call("list-after-marker", "list_objects_v2", Bucket=b)
    s.call("list-versions-marker", "list_object_versions", Bucket=b)
    s.call("list-versions-max1", "list_object_versions", Bucket=b, MaxKeys=1)
    s.call("get-marker-version", "get_object", Bucket=b, Key="v", VersionId=dm.get("VersionId", "none"))
    s.call("delete-marker-version", "delete_object", Bucket=b, Key="v", VersionId=dm.get("VersionId", "none"))
    s.call("get-restored", "get_object", Bucket=b, Key="v")
    s.call("delete-v1", "delete_object", Bucket=b, Key="v", VersionId=v1)
    s.call("get-deleted-v1", "get_object", Bucket=b, Key="v", VersionId=v1)
    s.call("suspend", "put_bucket_versioning", Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    s.call("status-suspended", "get_bucket_versioning", Bucket=b)
    s.call("put-suspended", "put_object", Bucket=b, Key="v", Body=b"suspended")
    s.call("list-versions-suspended", "list_object_versions", Bucket=b)
    s.call("delete-suspended", "delete_object", Bucket=b, Key="v")
    s.call("list-versions-final", "list_object_versions", Bucket=b, Prefix="v")


def _enable(s, b, step="enable", status="Enabled"):
    s.call(step, "put_bucket_versioning", Bucket=b, VersioningConfiguration={"Status": status})


@scenario
def versioning_list_params(s):
    b = s.bucket()
    _enable(s, b)
    for k in ["a b", "a/x", "a/y/z", "b", "é"]:
        for n in range(3):
            s.call(f"put-{k}-{n}", "put_object", Bucket=b, Key=k, Body=f"{k}{n}".encode())
    s.call("marker-b", "delete_object", Bucket=b, Key="b")
    s.call("list-all", "list_object_versions", Bucket=b)
    s.call("list-prefix", "list_object_versions", Bucket=b, Prefix="a/")
    s.call("list-delim", "list_object_versions", Bucket=b, Delimiter="/")
    s.call("list-prefix-delim", "list_object_versions", Bucket=b, Prefix="a/", Delimiter="/")
    s.call("list-url", "list_object_versions", Bucket=b, EncodingType="url")
    s.call("list-keymarker", "list_object_versions", Bucket=b, KeyMarker="a/x")
    # Page through with max-keys 2, following NextKeyMarker/NextVersionIdMarker.
    km, vm = None, None
    for page in range(12):
        params = {"Bucket": b, "MaxKeys": 2}
        if km is not None:
            params["KeyMarker"] = km
        if vm is not None:
            params["VersionIdMarker"] = vm
        r = s.call(f"page-{page}", "list_object_versions", **params)
        if not r.get("IsTruncated"):
            break
        km, vm = r.get("NextKeyMarker"), r.get("NextVersionIdMarker")
    r = s.call("delim-max1", "list_object_versions", Bucket=b, Delimiter="/", MaxKeys=1)
    s.call("list-v2-current", "list_objects_v2", Bucket=b)
    s.call("list-v1-current", "list_objects", Bucket=b)


@scenario
def versioning_null_version(s):
    b = s.bucket()
    s.call("put-pre", "put_object", Bucket=b, Key="k", Body=b"pre")
    s.call("head-pre", "head_object", Bucket=b, Key="k")
    s.call("list-unversioned", "list_object_versions", Bucket=b)
    _enable(s, b)
    s.call("head-pre-enabled", "head_object", Bucket=b, Key="k")
    v1 = s.call("put-v1", "put_object", Bucket=b, Key="k", Body=b"one").get("VersionId", "none")
    _enable(s, b, "suspend", "Suspended")
    s.call("put-s1", "put_object", Bucket=b, Key="k", Body=b"s1")
    s.call("list-s1", "list_object_versions", Bucket=b)
    s.call("put-s2", "put_object", Bucket=b, Key="k", Body=b"second")
    s.call("get-null", "get_object", Bucket=b, Key="k", VersionId="null")
    s.call("get-v1", "get_object", Bucket=b, Key="k", VersionId=v1)
    s.call("list-s2", "list_object_versions", Bucket=b)
    s.call("delete-suspended", "delete_object", Bucket=b, Key="k")
    s.call("list-null-marker", "list_object_versions", Bucket=b)
    s.call("get-after-null-marker", "get_object", Bucket=b, Key="k")
    s.call("head-null-marker", "head_object", Bucket=b, Key="k", VersionId="null")
    _enable(s, b, "reenable")
    s.call("put-v3", "put_object", Bucket=b, Key="k", Body=b"three")
    s.call("list-reenabled", "list_object_versions", Bucket=b)
    s.call("delete-null-marker", "delete_object", Bucket=b, Key="k", VersionId="null")
    s.call("list-final", "list_object_versions", Bucket=b)
    s.call("delete-bucket-not-empty", "delete_bucket", Bucket=b)


@scenario
def versioning_copy_tagging_multi(s):
    b = s.bucket()
    _enable(s, b)
    v1 = s.call("put-v1", "put_object", Bucket=b, Key="k", Body=b"one").get("VersionId", "none")
    v2 = s.call("put-v2", "put_object", Bucket=b, Key="k", Body=b"two two").get("VersionId", "none")
    s.call("copy-v1", "copy_object", Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "k", "VersionId": v1})
    s.call("get-copy", "get_object", Bucket=b, Key="c")
    s.call("copy-restore", "copy_object", Bucket=b, Key="k", CopySource={"Bucket": b, "Key": "k", "VersionId": v1})
    s.call("get-restored", "get_object", Bucket=b, Key="k")
    s.call(
        "tag-v2",
        "put_object_tagging",
        Bucket=b,
        Key="k",
        VersionId=v2,
        Tagging={"TagSet": [{"Key": "t", "Value": "2"}]},
    )
    s.call("tags-v2", "get_object_tagging", Bucket=b, Key="k", VersionId=v2)
    s.call("tags-current", "get_object_tagging", Bucket=b, Key="k")
    s.call("head-v2", "head_object", Bucket=b, Key="k", VersionId=v2)
    s.call("untag-v2", "delete_object_tagging", Bucket=b, Key="k", VersionId=v2)
    dm = s.call("marker", "delete_object", Bucket=b, Key="k").get("VersionId", "none")
    s.call("head-marker", "head_object", Bucket=b, Key="k")
    s.call("head-marker-version", "head_object", Bucket=b, Key="k", VersionId=dm)
    tags = {"TagSet": [{"Key": "t", "Value": "m"}]}
    s.call("tag-on-marker", "put_object_tagging", Bucket=b, Key="k", Tagging=tags)
    s.call("tags-on-marker", "get_object_tagging", Bucket=b, Key="k")
    s.call("tag-marker-version", "put_object_tagging", Bucket=b, Key="k", VersionId=dm, Tagging=tags)
    s.call("copy-from-marker", "copy_object", Bucket=b, Key="d", CopySource={"Bucket": b, "Key": "k"})
    s.call("get-missing-version", "get_object", Bucket=b, Key="c", VersionId=v1)
    s.call(
        "delete-multi",
        "delete_objects",
        Bucket=b,
        Delete={
            "Objects": [
                {"Key": "k", "VersionId": v1},
                {"Key": "k", "VersionId": dm},
                {"Key": "c"},
            ]
        },
    )
    s.call("list-after-multi", "list_object_versions", Bucket=b)
    s.call("get-after-multi", "get_object", Bucket=b, Key="k")
    s.call("list-v2-after-multi", "list_objects_v2", Bucket=b)


@scenario
def versioning_unknown_ids_and_cleanup(s):
    b = s.bucket()
    _enable(s, b)
    v1 = s.call("put-v1", "put_object", Bucket=b, Key="k", Body=b"one").get("VersionId", "none")
    unknown = "0123456789abcdef0123456789abcdef"
    s.call("get-unknown", "get_object", Bucket=b, Key="k", VersionId=unknown)
    s.call("head-unknown", "head_object", Bucket=b, Key="k", VersionId=unknown)
    s.call("tags-unknown", "get_object_tagging", Bucket=b, Key="k", VersionId=unknown)
    s.call("get-nokey-version", "get_object", Bucket=b, Key="nokey", VersionId=unknown)
    s.call("delete-unknown", "delete_object", Bucket=b, Key="k", VersionId=unknown)
    s.call("list-max0", "list_object_versions", Bucket=b, MaxKeys=0)
    dm = s.call("marker", "delete_object", Bucket=b, Key="k").get("VersionId", "none")
    s.call("delete-v1", "delete_object", Bucket=b, Key="k", VersionId=v1)
    s.call("list-only-marker", "list_object_versions", Bucket=b)
    s.call("get-only-marker", "get_object", Bucket=b, Key="k")
    s.call("delete-bucket-marker-left", "delete_bucket", Bucket=b)
    s.call("delete-marker", "delete_object", Bucket=b, Key="k", VersionId=dm)
    s.call("list-empty", "list_object_versions", Bucket=b)
    s.call("delete-bucket", "delete_bucket", Bucket=b)


# -- attributes -------------------------------------------------------------------------


@scenario
def object_attributes(s):
    b = s.bucket()
    s.call("put", "put_object", Bucket=b, Key="a", Body=blob(1000, 5))
    s.call(
        "attrs",
        "get_object_attributes",
        Bucket=b,
        Key="a",
        ObjectAttributes=["ETag", "ObjectSize", "StorageClass"],
    )
    s.call(
        "attrs-missing",
        "get_object_attributes",
        Bucket=b,
        Key="nope",
        ObjectAttributes=["ETag"],
    )
