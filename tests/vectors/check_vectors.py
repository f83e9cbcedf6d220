"""An independent implementation of formats v1 and v2 (docs/FORMAT.md) in Python, checked
against the known-answer vectors the Rust tests also check. If both agree, the spec is what
the code does. objects-v2.json holds whole objects: a conforming reader (FORMAT.md §2 reader
obligations) must read the positive ones and refuse every `refuse` one. Needs the `cryptography` package (installed with moto by scripts/setup-test-deps)."""
import base64, glob, hashlib, hmac, json, os, struct, sys
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

v = json.load(open(os.path.join(here, "wrap-v2.json")))
kid, okey, bucket = v["kek_id"].encode(), v["object_key"].encode(), v["bucket"].encode()
for name, flags, b in (("bound", 1, bucket), ("unbound", 0, b"")):
    aad = (b"s3seal-v2 dek" + bytes([flags]) + struct.pack(">H", len(kid)) + kid
           + struct.pack(">I", len(b)) + b + struct.pack(">I", len(okey)) + okey)
    nonce = bytes.fromhex(v["nonce_hex"])
    blob = nonce + AESGCM(bytes.fromhex(v["kek_hex"])).encrypt(nonce, bytes.fromhex(v["dek_hex"]), aad)
    ok = base64.b64encode(blob).decode() == v[name + "_blob_b64"]
    failed += not ok
    print(("ok  " if ok else "FAIL"), "wrap-v2.json", name)


class Refused(Exception):
    pass


def unwrap(o, m):
    kid = m["s3seal-kek"].encode()
    okey, bucket = o["key"].encode(), o["bucket"].encode()
    if m["s3seal-v"] == "1":
        if "s3seal-bb" in m:
            raise Refused("s3seal-bb on a v1 object")
        aad = b"s3seal-v1 dek" + struct.pack(">H", len(kid)) + kid + struct.pack(">I", len(okey)) + okey
    elif m["s3seal-v"] == "2":
        bb = m.get("s3seal-bb")
        if bb not in (None, "0"):
            raise Refused("bad s3seal-bb")
        flags, b = (1, bucket) if bb is None else (0, b"")
        aad = (b"s3seal-v2 dek" + bytes([flags]) + struct.pack(">H", len(kid)) + kid
               + struct.pack(">I", len(b)) + b + struct.pack(">I", len(okey)) + okey)
    else:
        raise Refused("unknown version")
    kek = bytes.fromhex(o["customer_key_hex"] if m["s3seal-kek"] == "sse-c" else o["kek_hex"])
    blob = base64.b64decode(m["s3seal-dek"])
    try:
        return AESGCM(kek).decrypt(blob[:12], blob[12:], aad)
    except Exception:
        raise Refused("DEK does not unwrap")


def layout_parts(o, dek, S):
    """FORMAT.md §5: the committed layout from the object's tags, authenticated."""
    tags, values = o.get("tags") or {}, []
    while True:
        k = "s3seal-layout" if not values else f"s3seal-layout-{len(values) + 1}"
        if k not in tags:
            break
        values.append(tags[k])
    if not values:
        raise Refused("layout tag missing")
    sealed = base64.b64decode("".join(values))
    tag, runs = sealed[:16], sealed[16:]
    if not runs or len(runs) % 16:
        raise Refused("malformed layout")
    key = HKDF(hashes.SHA256(), 32, b"", b"s3seal v2 layout key").derive(dek)
    want = hmac.new(key, b"s3seal v2 layout" + struct.pack(">I", S) + runs, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(tag, want):
        raise Refused("layout does not authenticate")
    parts, nxt = [], 1
    for i in range(0, len(runs), 16):
        first, count, plain = struct.unpack(">IIQ", runs[i:i + 16])
        if count == 0 or first < nxt or first + count > 10001:
            raise Refused("malformed layout")
        parts += [(first + j, plain) for j in range(count)]
        nxt = first + count
    return parts


def read_committed(o, m, dek, S):
    """Every segment's part, index, final flag and place come from the layout."""
    stored = bytes.fromhex(o["stored_hex"])
    segs, pa, sa = [], 0, 0   # (part, index, final, plain at, plain len, stored at)
    for part, n in layout_parts(o, dek, S):
        k = max(1, -(-n // S))
        for i in range(k):
            ln = S if i < k - 1 else n - (k - 1) * S
            segs.append((part, i, i == k - 1, pa, ln, sa))
            pa, sa = pa + ln, sa + ln + 32
    if sa != len(stored):
        raise Refused("stored size differs from the layout")
    if o["range"] is None:
        first, last, want = 0, pa - 1, segs
    else:
        a, b = o["range"]
        if a > b or a >= pa:
            raise Refused("unsatisfiable")
        first, last = a, min(b, pa - 1)
        want = [x for x in segs if x[4] and x[3] <= last and x[3] + x[4] > first]
    out, prev = [], None
    for part, idx, fin, at, ln, sat in want:
        seg = stored[sat:sat + ln + 32]
        hpart, word = struct.unpack(">II", seg[:8])
        salt = seg[8:16]
        if (hpart, word & 0x7FFFFFFF, bool(word >> 31)) != (part, idx, fin):
            raise Refused("segment out of place")
        if prev is not None and prev[0] == part and prev[1] != salt:
            raise Refused("segment from another stream")
        key = HKDF(hashes.SHA256(), 32, b"", b"s3seal v2 mppart" + struct.pack(">I", part) + salt).derive(dek)
        nonce = b"\0" * 4 + struct.pack(">I", word) + b"\0" * 4
        try:
            out.append(AESGCM(key).decrypt(nonce, seg[16:], b"s3seal1" + seg[:16]))
        except Exception:
            raise Refused("segment does not authenticate")
        prev = (part, salt)
    pt = b"".join(out)
    skip = first - want[0][3] if want else 0
    return pt[skip: skip + (last - first + 1)] if pa else b""


def read(o):
    m = o["metadata"]
    dek = unwrap(o, m)
    S, full = int(m["s3seal-seg"]), int(m["s3seal-seg"]) + 32
    if m.get("s3seal-mp") == "2":
        return read_committed(o, m, dek, S)
    mp = m.get("s3seal-mp") == "1"
    stored = bytes.fromhex(o["stored_hex"])
    T = len(stored)
    n = -(-T // full)
    if T < 32 or T - (n - 1) * full < 32:
        raise Refused("invalid stored size")
    plain = T - 32 * n
    if o["range"] is None:
        first, last, first_seg = 0, plain - 1, 0
        data = stored
    else:
        a, b = o["range"]
        if a > b or a >= plain:
            raise Refused("unsatisfiable")
        first, last = a, min(b, plain - 1)
        first_seg = first // S
        data = stored[first_seg * full: min(T, (last // S + 1) * full)]
    reaches_end = first_seg * full + len(data) >= T
    count = -(-len(data) // full)          # obligation 1: the segments this read must hold
    out, prev, streams = [], None, 0
    for i in range(count):
        seg = data[i * full:(i + 1) * full]
        if len(seg) < 32:
            raise Refused("truncated")
        part, word = struct.unpack(">II", seg[:8])
        salt, idx, fin = seg[8:16], word & 0x7FFFFFFF, bool(word >> 31)
        if prev is None:
            ok = (part >= 1 and (first_seg != 0 or idx == 0)) if mp else (part == 0 and idx == first_seg)
        elif not prev[2]:
            ok = part == prev[0] and salt == prev[3] and idx == prev[1] + 1
        else:
            ok = mp and part > prev[0] and idx == 0
        if not ok:
            raise Refused("segment out of place")
        is_last = i == count - 1
        if is_last and reaches_end and not fin:
            raise Refused("the read's last segment is not final")
        if not mp and fin and not (is_last and reaches_end):
            raise Refused("final segment before the end")
        if prev is None or part != prev[0] or salt != prev[3]:
            streams += 1
        key = HKDF(hashes.SHA256(), 32, b"", b"s3seal v1 stream" + struct.pack(">I", part) + salt).derive(dek)
        nonce = b"\0" * 4 + struct.pack(">I", word) + b"\0" * 4
        try:
            pt = AESGCM(key).decrypt(nonce, seg[16:], b"s3seal1" + seg[:16])
        except Exception:
            raise Refused("segment does not authenticate")
        if not pt and not (idx == 0 and fin):
            raise Refused("empty segment")
        out.append(pt)
        prev = (part, idx, fin, salt)
    if mp and o["range"] is None and o["etag_parts"] is not None and streams != o["etag_parts"]:
        raise Refused("part count differs from the store's ETag")
    pt = b"".join(out)
    skip = first - first_seg * S
    return pt[skip: skip + (last - first + 1)] if plain else b""


for o in json.load(open(os.path.join(here, "objects-v2.json"))):
    try:
        got, why = read(o), None
    except Refused as e:
        got, why = None, str(e)
    if o["refuse"]:
        ok = got is None
    else:
        ok = got is not None and got.hex() == o["plaintext_hex"]
    failed += not ok
    print(("ok  " if ok else "FAIL"), "objects-v2:", o["description"], f"({why})" if why else "")
sys.exit(1 if failed else 0)
