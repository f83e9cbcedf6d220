"""An independent implementation of format v1 (docs/FORMAT.md) in Python, checked against
the known-answer vectors the Rust tests also check. If both agree, the spec is what the
code does. Needs the `cryptography` package (installed with moto by scripts/setup-test-deps)."""
import base64, glob, json, os, struct, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

here = os.path.dirname(os.path.abspath(__file__))
failed = 0
for path in sorted(glob.glob(os.path.join(here, "stream-*.json"))):
    v = json.load(open(path))
    dek, salt = bytes.fromhex(v["dek_hex"]), bytes.fromhex(v["salt_hex"])
    part, seg = v["part"], v["segment"]
    key = HKDF(hashes.SHA256(), 32, b"", b"s3seal v1 stream" + struct.pack(">I", part) + salt).derive(dek)
    pt = bytes.fromhex(v["plaintext_hex"])
    chunks = [pt[i:i + seg] for i in range(0, len(pt), seg)] or [b""]
    out = b""
    for i, c in enumerate(chunks):
        word = i | ((1 << 31) if i == len(chunks) - 1 else 0)
        header = struct.pack(">II", part, word) + salt
        nonce = b"\0" * 4 + struct.pack(">I", word) + b"\0" * 4
        out += header + AESGCM(key).encrypt(nonce, c, b"s3seal1" + header)
    ok = out.hex() == v["stored_hex"]
    failed += not ok
    print(("ok  " if ok else "FAIL"), os.path.basename(path))

v = json.load(open(os.path.join(here, "wrap.json")))
kid, okey = v["kek_id"].encode(), v["object_key"].encode()
aad = b"s3seal-v1 dek" + struct.pack(">H", len(kid)) + kid + struct.pack(">I", len(okey)) + okey
nonce = bytes.fromhex(v["nonce_hex"])
blob = nonce + AESGCM(bytes.fromhex(v["kek_hex"])).encrypt(nonce, bytes.fromhex(v["dek_hex"]), aad)
ok = base64.b64encode(blob).decode() == v["blob_b64"]
failed += not ok
print(("ok  " if ok else "FAIL"), "wrap.json")
sys.exit(1 if failed else 0)
