#!/usr/bin/env bash
# A web app's browser upload, in a real browser (headless chromium via playwright): a page on
# another origin PUTs a file to the gateway with a presigned URL (the browser sends its CORS
# preflight first), reads the ETag the rules expose, and GETs the file back. Before the bucket
# allows the page's origin the browser refuses the upload (nothing stored); a page on an origin
# the rules do not name cannot read. Every wait is bounded; the browser only reaches 127.0.0.1.
here=$(dirname "$0")
. "$here/lib.sh"
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing (scripts/setup-test-deps installs it)"
start_gateway
ENDPOINT=$ENDPOINT WORK=$WORK timeout 300 python3 - <<'PY' || { tail -n 20 "$GW_LOG" >&2; fail "browser upload with CORS"; }
import http.server, os, threading
import boto3
from botocore.config import Config
from playwright.sync_api import sync_playwright

T = 30_000
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"],
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
def ok(msg): print("ok:", msg, flush=True)
def check(cond, msg):
    if not cond:
        raise SystemExit(f"FAIL: {msg}")

class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>app</title><p>app</p>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

def serve_page():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"

app_srv, app = serve_page()
evil_srv, evil = serve_page()
B = "uploads"
s3.create_bucket(Bucket=B)
content = "S3SEAL-PLAINTEXT-MARKER uploaded from a browser page \u00e9\n" * 50
KEY = "user 1/photo a+b.txt"

UPLOAD = """async ([put, get]) => {
  try {
    const r = await fetch(put, {method: "PUT", body: CONTENT, headers: {"Content-Type": "text/plain"}});
    const etag = r.headers.get("ETag");
    const back = await (await fetch(get)).text();
    return {status: r.status, etag, back};
  } catch (e) { return {error: String(e)}; }
}""".replace("CONTENT", repr(content))
READ = """async (get) => {
  try { const r = await fetch(get); return {status: r.status, body: await r.text()}; }
  catch (e) { return {error: String(e)}; }
}"""

def urls():
    put = s3.generate_presigned_url("put_object", Params={"Bucket": B, "Key": KEY, "ContentType": "text/plain"}, ExpiresIn=300)
    get = s3.generate_presigned_url("get_object", Params={"Bucket": B, "Key": KEY}, ExpiresIn=300)
    return put, get

with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium", timeout=T,
        args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
              "--disable-background-networking", "--disable-component-update", "--no-first-run"])
    page = browser.new_page()
    page.goto(app, timeout=T)

    # No CORS rules: the browser's preflight is refused and the upload never happens.
    r = page.evaluate(UPLOAD, list(urls()))
    check("error" in r, f"the browser must refuse the upload without CORS rules: {r}")
    check("Contents" not in s3.list_objects_v2(Bucket=B), "nothing stored")
    ok("without CORS rules the browser refuses the cross-origin upload")

    s3.put_bucket_cors(Bucket=B, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [app], "AllowedMethods": ["PUT", "GET"],
        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60}]})
    r = page.evaluate(UPLOAD, list(urls()))
    check(r.get("status") == 200, f"upload from the page: {r}")
    head = s3.head_object(Bucket=B, Key=KEY)
    check(r.get("etag") == head["ETag"], f"the page reads the exposed ETag {r.get('etag')} == {head['ETag']}")
    check(r.get("back") == content, "the page reads the file back")
    check(s3.get_object(Bucket=B, Key=KEY)["Body"].read() == content.encode(), "stored body")
    ok("the page uploads with a presigned PUT, reads the ETag and the file back")

    other = browser.new_page()
    other.goto(evil, timeout=T)
    r = other.evaluate(READ, urls()[1])
    check("error" in r, f"a page on another origin must not read the file: {r}")
    ok("a page on an origin the rules do not name cannot read the file")
    browser.close()
app_srv.shutdown(); evil_srv.shutdown()
PY
assert_no_plaintext_on_disk
ok "browser-uploaded objects are sealed at the store"
