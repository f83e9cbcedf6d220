#!/usr/bin/env bash
# aws cli over HTTPS with --ca-bundle, against a certificate generated here.
here=$(dirname "$0")
. "$here/lib.sh"
python3 - "$WORK" <<'PY' || fail "cannot generate a test certificate"
import datetime, ipaddress, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "s3seal test")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256()))
open(sys.argv[1] + "/cert.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(sys.argv[1] + "/key.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY
cat >"$WORK/gw.toml" <<CFG
[server]
listen = "127.0.0.1:0"
[server.tls]
cert = "cert.pem"
key = "key.pem"
CFG
(cd "$WORK" && exec "$S3SEAL_BIN" serve --config gw.toml >"$WORK/banner" 2>"$GW_LOG") &
GW_PID=$!
for _ in $(seq 100); do grep -q "secret key:" "$WORK/banner" 2>/dev/null && break; sleep 0.1; done
ENDPOINT=$(head -1 "$WORK/banner" | awk '{print $NF}')
export AWS_ACCESS_KEY_ID=$(awk '/access key:/ {print $3}' "$WORK/banner")
export AWS_SECRET_ACCESS_KEY=$(awk '/secret key:/ {print $3}' "$WORK/banner")
case "$ENDPOINT" in https://*) ;; *) cat "$WORK/banner" "$GW_LOG"; fail "no https endpoint";; esac
aws() { command aws --endpoint-url "$ENDPOINT" --ca-bundle "$WORK/cert.pem" "$@"; }
make_file "$WORK/f.bin" 300000
aws s3 mb s3://tls-compat >/dev/null || fail "mb over https"
aws s3 cp "$WORK/f.bin" s3://tls-compat/f.bin >/dev/null || fail "cp up over https"
aws s3 cp s3://tls-compat/f.bin "$WORK/f.back" >/dev/null || fail "cp down over https"
cmp "$WORK/f.bin" "$WORK/f.back" || fail "https round trip differs"
command aws --endpoint-url "$ENDPOINT" s3 ls >/dev/null 2>&1 && fail "an untrusted certificate was accepted"
ok "aws cli over https with --ca-bundle; untrusted without it"
# boto3 streams PutObject bodies as aws-chunked over HTTPS (Content-Encoding: aws-chunked):
# that names the upload's framing; the object must not come back with it (curl --compressed
# and python-requests refuse to read such a response).
python3 - "$ENDPOINT" "$WORK/cert.pem" <<'PY' || fail "aws-chunked kept as the object's Content-Encoding"
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], verify=sys.argv[2], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
sent = []
s3.meta.events.register("before-send.s3.PutObject",
                        lambda request, **kw: sent.append(request.headers.get("Content-Encoding")))
for key, enc, want in [("plain", None, None), ("gz", "gzip", "gzip")]:
    kw = {"ContentEncoding": enc} if enc else {}
    s3.put_object(Bucket="tls-compat", Key=key, Body=b"x" * 1000, **kw)
    got = s3.head_object(Bucket="tls-compat", Key=key).get("ContentEncoding")
    assert got == want, (key, got)
    r = s3.get_object(Bucket="tls-compat", Key=key)
    assert r.get("ContentEncoding") == want and r["Body"].read() == b"x" * 1000, key
assert any(s and b"aws-chunked" in (s if isinstance(s, bytes) else s.encode()) for s in sent), sent
PY
ok "boto3's aws-chunked uploads keep only the object's own Content-Encoding"
assert_no_plaintext_on_disk
ok "no plaintext in the store"
