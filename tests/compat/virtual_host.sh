#!/usr/bin/env bash
# Virtual-hosted addressing (`Host: bucket.localhost:port`, the default of the AWS SDKs for
# JavaScript v3 and Go v2) with boto3 in virtual mode against the gateway's default
# `server.domains = ["localhost"]`. `*.localhost` is loopback (RFC 6761); this machine's
# resolver may not say so, so the script maps it to 127.0.0.1 itself. Before, such requests
# were read as path-style: a PutObject created a bucket named after the key, and a DeleteObject
# deleted an empty bucket named after the key (outside probe).
here=$(dirname "$0")
. "$here/lib.sh"
start_gateway
make_file "$WORK/big.bin" $((12 * 1024 * 1024 + 4321))
ENDPOINT=$ENDPOINT WORK=$WORK python3 - <<'PY' || fail "virtual-hosted workload"
import os, socket, urllib.request
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

real_gai = socket.getaddrinfo
def loopback_gai(host, *a, **k):
    if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
        host = "127.0.0.1"
    return real_gai(host, *a, **k)
socket.getaddrinfo = loopback_gai

work = os.environ["WORK"]
port = os.environ["ENDPOINT"].rsplit(":", 1)[1]
vh = boto3.client("s3", endpoint_url=f"http://localhost:{port}",
                  config=Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1}))
path = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"],
                    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
def ok(msg): print("ok:", msg)
def check(cond, msg):
    if not cond:
        raise SystemExit(f"FAIL: {msg}")

seen = []
vh.meta.events.register("before-send.s3", lambda request, **_: seen.append(request.url))
vh.create_bucket(Bucket="photos")
check(seen and seen[-1].startswith(f"http://photos.localhost:{port}"), f"boto3 sent {seen[-1:]}")
path.create_bucket(Bucket="old-backups")  # empty: a misread DeleteObject would remove it
ok("CreateBucket on photos.localhost")

marker = b"S3SEAL-PLAINTEXT-MARKER virtual-hosted "
keys = ["a+b", "x", "x/y", "dir/a b+c.txt", "caf\u00e9/\u00fc.txt", "old-backups", "thumb.jpg"]
for k in keys:
    vh.put_object(Bucket="photos", Key=k, Body=marker + k.encode(), Metadata={"k": "v"})
for k in keys:
    check(vh.get_object(Bucket="photos", Key=k)["Body"].read() == marker + k.encode(), f"GET {k}")
    check(path.get_object(Bucket="photos", Key=k)["Body"].read() == marker + k.encode(), f"path GET {k}")
    h = vh.head_object(Bucket="photos", Key=k)
    check(h["ContentLength"] == len(marker + k.encode()) and h["Metadata"] == {"k": "v"}, f"HEAD {k}: {h}")
names = sorted(b["Name"] for b in path.list_buckets()["Buckets"])
check(names == ["old-backups", "photos"], f"no bucket named after a key: {names}")
listed = [o["Key"] for o in vh.list_objects_v2(Bucket="photos")["Contents"]]
check(listed == sorted(keys), f"listing {listed}")
g = vh.get_object(Bucket="photos", Key="x/y", Range="bytes=2-9")
check(g["Body"].read() == (marker + b"x/y")[2:10], "range")
ok("put, get, head, range and list with keys a+b, x and x/y")

vh.delete_object(Bucket="photos", Key="old-backups")
names = sorted(b["Name"] for b in path.list_buckets()["Buckets"])
check(names == ["old-backups", "photos"], f"DeleteObject removed only the object: {names}")
check("old-backups" not in [o["Key"] for o in vh.list_objects_v2(Bucket="photos")["Contents"]], "deleted")
vh.delete_objects(Bucket="photos", Delete={"Objects": [{"Key": "thumb.jpg"}, {"Key": "x"}]})
listed = [o["Key"] for o in vh.list_objects_v2(Bucket="photos")["Contents"]]
check("thumb.jpg" not in listed and "x" not in listed and "x/y" in listed, f"after DeleteObjects {listed}")
ok("DeleteObject and DeleteObjects delete objects, not buckets")

cfg = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5_000_000, max_concurrency=3)
vh.upload_file(f"{work}/big.bin", "photos", "big.bin", Config=cfg)
vh.download_file("photos", "big.bin", f"{work}/big.back", Config=cfg)
check(open(f"{work}/big.bin", "rb").read() == open(f"{work}/big.back", "rb").read(), "multipart round trip")
up = vh.create_multipart_upload(Bucket="photos", Key="dir/loc a+b.bin")
p = vh.upload_part(Bucket="photos", Key="dir/loc a+b.bin", UploadId=up["UploadId"], PartNumber=1, Body=marker)
done = vh.complete_multipart_upload(Bucket="photos", Key="dir/loc a+b.bin", UploadId=up["UploadId"],
                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
check(done["Location"] == f"http://photos.localhost:{port}/dir/loc%20a%2Bb.bin", f"Location {done['Location']}")
ok("multipart (5,000,000-byte parts) and Location in the virtual-hosted style")

vh.copy_object(Bucket="photos", Key="copy", CopySource={"Bucket": "photos", "Key": "a+b"})
check(vh.get_object(Bucket="photos", Key="copy")["Body"].read() == marker + b"a+b", "copy")
url = vh.generate_presigned_url("get_object", Params={"Bucket": "photos", "Key": "dir/a b+c.txt"}, ExpiresIn=60)
check(url.startswith(f"http://photos.localhost:{port}/"), url)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
check(opener.open(url).read() == marker + b"dir/a b+c.txt", "presigned GET")
ok("copy and a presigned virtual-hosted URL")

vh.put_bucket_cors(Bucket="photos", CORSConfiguration={"CORSRules": [
    {"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["PUT", "GET"], "AllowedHeaders": ["*"]}]})
pre = urllib.request.Request(f"http://photos.localhost:{port}/upload.jpg", method="OPTIONS", headers={
    "Origin": "https://app.example", "Access-Control-Request-Method": "PUT"})
r = opener.open(pre)
check(r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "https://app.example", f"preflight {r.headers}")
ok("a CORS preflight on the bucket's own host name")

# The gateway's own pages live at /healthz, /readyz and /metrics of its path-style host; under
# a bucket's host those are keys like any other (they answered the gateway's page with 200).
for k in ["healthz", "readyz", "metrics"]:
    vh.put_object(Bucket="photos", Key=k, Body=marker + k.encode())
    check(vh.get_object(Bucket="photos", Key=k)["Body"].read() == marker + k.encode(), f"GET {k}")
check(opener.open(f"http://127.0.0.1:{port}/healthz").read() == b"ok\n", "the gateway's own /healthz")
ok("objects named healthz, readyz and metrics under a bucket's host")
PY
assert_no_plaintext_on_disk
ok "virtual-hosted objects are sealed at the store"
