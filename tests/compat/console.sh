#!/usr/bin/env bash
# The web console in a real browser: Debian's headless chromium driven by playwright against the
# real gateway. Login (and a wrong secret refused), bucket list, upload of a PNG through the file
# input and the drop zone, thumbnail, download, share link fetched outside the browser, a 20 MiB
# upload (the multipart path), folders and uploads into a prefix, delete behind confirm(), logout.
# Every wait is bounded (30 s), and the browser only reaches 127.0.0.1.
here=$(dirname "$0")
. "$here/lib.sh"
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing (scripts/setup-test-deps installs it)"
start_gateway
# Screenshots of every run (the README's picture is one of them: docs/console.png).
export CONSOLE_SHOT_DIR=${CONSOLE_SHOT_DIR:-$(cd "$here/../.." && pwd)/target/console-screenshots}
mkdir -p "$CONSOLE_SHOT_DIR"
head -c $((20 * 1024 * 1024 + 4321)) /dev/urandom >"$WORK/big.bin"
ENDPOINT=$ENDPOINT CONSOLE_URL=$CONSOLE_URL WORK=$WORK timeout 600 python3 - <<'PY' || { echo "--- gateway log (last lines)" >&2; tail -n 30 "$GW_LOG" >&2; fail "console in the browser"; }
import base64, hashlib, os, struct, sys, urllib.error, urllib.parse, urllib.request, zlib
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from playwright.sync_api import sync_playwright, expect

api_endpoint = os.environ["ENDPOINT"].rstrip("/")
# The console's own origin (scheme://host:port), apart from the S3 API's.
endpoint = os.environ["CONSOLE_URL"].rstrip("/").removesuffix("/console")
work = os.environ["WORK"]
access, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
T = 30_000  # every browser wait, in ms
SHOTS = os.environ["CONSOLE_SHOT_DIR"]
def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, name), full_page=True)
BUCKET = "gallery"
s3 = boto3.client("s3", endpoint_url=api_endpoint,
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
http = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy

class Fail(Exception):
    pass
def ok(msg): print("ok:", msg, flush=True)
def check(cond, msg):
    if not cond:
        raise Fail(msg)

def png(w, h, text):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(c for x in range(w) for c in (x * 255 // (w - 1), y * 255 // (h - 1), 160))
                    for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00" + text) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))

photo = png(64, 48, b"S3SEAL-PLAINTEXT-MARKER in a PNG tEXt chunk")
open(f"{work}/photo.png", "wb").write(photo)
dropped = png(16, 16, b"S3SEAL-PLAINTEXT-MARKER dropped on the drop zone")
big_path = f"{work}/big.bin"
big_size = os.path.getsize(big_path)
big_sha = hashlib.sha256(open(big_path, "rb").read()).hexdigest()
for name, body in (("one.txt", b"S3SEAL-PLAINTEXT-MARKER first file of two\n"),
                   ("two.txt", b"S3SEAL-PLAINTEXT-MARKER second file of two\n")):
    open(f"{work}/{name}", "wb").write(body)

def fetch(url):
    with http.open(url, timeout=30) as r:
        return r.status, r.read()

def obj(key):
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

def gone(key):
    try:
        s3.head_object(Bucket=BUCKET, Key=key)
        return False
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"] == 404

def row(page, key):
    return page.locator(f'tr.object[data-key="{key}"]')

def upload_done(page):
    page.wait_for_function("""() => {
        const t = (document.querySelector('#upload-status') || {}).textContent || '';
        return t.trim() === 'done' || t.trim().startsWith('error');
    }""", timeout=T)
    status = page.text_content("#upload-status")
    check(status == "done", f"#upload-status says {status!r}, want exactly 'done'")

def clear_status(page):
    page.evaluate("document.querySelector('#upload-status').textContent = ''")

def shows_login(page):
    return page.locator("form#login").count() == 1

def log_in(page, secret_key):
    page.goto(f"{endpoint}/console/", timeout=T)
    form = page.locator("form#login")
    expect(form).to_have_count(1, timeout=T)
    check((form.get_attribute("method") or "").lower() == "post", f"form#login method {form.get_attribute('method')!r}")
    action = urllib.parse.urlparse(urllib.parse.urljoin(page.url, form.get_attribute("action") or ""))
    check(action.path == "/console/login", f"form#login action {form.get_attribute('action')!r}")
    for f in ("access_key", "secret_key"):
        check(page.locator(f'form#login input#{f}[name="{f}"]').count() == 1, f"login input {f}")
    page.fill("#access_key", access)
    page.fill("#secret_key", secret_key)
    with page.expect_navigation(timeout=T) as nav:
        page.click("button#login-submit")
    return nav.value

s3.create_bucket(Bucket=BUCKET)
ok(f"bucket {BUCKET} created with boto3")
page = None
errors = []  # uncaught exceptions in the console's own JS
with sync_playwright() as p:
    try:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", timeout=T,
            args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                  "--disable-background-networking", "--disable-component-update", "--no-first-run"])

        # A wrong secret: the login page again, 401, an .error, and still no session.
        ctx = browser.new_context()
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{endpoint}/console/b/{BUCKET}/", timeout=T)
        check(shows_login(page) and page.locator("table#objects").count() == 0,
              "a bucket page without a session must show the login form, not the listing")
        resp = log_in(page, secret + "x")
        check(resp is not None and resp.status == 401, f"wrong secret answered {resp and resp.status}, want 401")
        expect(page.locator(".error")).not_to_have_count(0, timeout=T)
        check(shows_login(page), "wrong secret: the login form is shown again")
        page.goto(f"{endpoint}/console/", timeout=T)
        check(shows_login(page) and page.locator("a.bucket").count() == 0, "wrong secret gave a session")
        ctx.close()
        ok("wrong secret: 401, .error shown, no session")

        ctx = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 640})
        page = ctx.new_page()
        page.set_default_timeout(T)
        page.set_default_navigation_timeout(T)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{endpoint}/console/", timeout=T)
        shot(page, "login.png")
        resp = log_in(page, secret)
        check(resp is not None and resp.ok, f"login answered {resp and resp.status}")
        page.goto(f"{endpoint}/console/")
        link = page.locator("a.bucket", has_text=BUCKET)
        expect(link).to_have_count(1)
        check(link.text_content().strip() == BUCKET, f"a.bucket text {link.text_content()!r}")
        href = urllib.parse.urlparse(urllib.parse.urljoin(page.url, link.get_attribute("href")))
        check(href.path == f"/console/b/{BUCKET}/", f"a.bucket href {link.get_attribute('href')!r}")
        ok("logged in; bucket list links a.bucket to /console/b/gallery/")

        with page.expect_navigation():
            link.click()
        bucket_url = f"{endpoint}/console/b/{BUCKET}/"
        check(page.url == bucket_url, f"bucket page url {page.url}")
        for sel in ('input#file-input[type="file"][multiple]', "#drop", "progress#upload-progress",
                    "#upload-status", "select#share-expiry", "input#share-url[readonly]",
                    "table#objects", "form#logout button#logout-submit"):
            check(page.locator(sel).count() == 1, f"bucket page lacks {sel}")
        values = page.eval_on_selector_all("select#share-expiry option", "os => os.map(o => o.value)")
        check(sorted(values, key=int) == ["300", "3600", "86400", "604800"], f"share expiry options {values}")
        ok("bucket page has the upload, share, table and logout controls")

        page.set_input_files("#file-input", f"{work}/photo.png")
        upload_done(page)
        check(obj("photo.png") == photo, "the uploaded PNG reads back through S3 byte for byte")
        page.reload()
        r = row(page, "photo.png")
        expect(r).to_have_count(1)
        check(r.get_attribute("data-size") == str(len(photo)),
              f"photo.png data-size {r.get_attribute('data-size')!r}, want {len(photo)}")
        for cell in ("td.name", "td.size", "td.modified", "td.owner"):
            check(r.locator(cell).count() == 1, f"photo.png row has no {cell}")
        for cell in ("td.name", "td.size", "td.modified"):
            check(r.locator(cell).text_content().strip(), f"photo.png row {cell} is empty")
        check("photo.png" in r.locator("td.name").text_content(), "td.name shows the name")
        thumb = r.locator("img.thumb")
        expect(thumb).to_have_count(1)
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(), timeout=T)
        w = thumb.evaluate("img => img.naturalWidth")
        ok(f"uploaded photo.png via #file-input; row data-size={len(photo)}, "
           f"owner {r.locator('td.owner').text_content().strip()!r}, thumbnail loaded ({w}px wide)")

        with page.expect_download(timeout=T) as dl:
            r.locator("a.download").click()
        got = open(dl.value.path(), "rb").read()
        check(got == photo, f"downloaded {len(got)} bytes differ from the {len(photo)} uploaded")
        ok(f"a.download gives the same bytes (as {dl.value.suggested_filename!r})")

        page.select_option("#share-expiry", "3600")
        page.evaluate("document.querySelector('#share-url').value = ''")
        r.locator("button.share").click()
        page.wait_for_function("() => document.querySelector('#share-url').value !== ''", timeout=T)
        url = page.input_value("#share-url")
        u = urllib.parse.urlparse(url)
        check(u.scheme == "http" and u.hostname == "127.0.0.1", f"share URL is not an absolute gateway URL: {url!r}")
        check(f"{u.scheme}://{u.netloc}" == api_endpoint, f"share URL is not on the S3 API's origin {api_endpoint}: {url!r}")
        q = urllib.parse.parse_qs(u.query)
        check(q.get("X-Amz-Expires") == ["3600"], f"share URL ignores the chosen expiry (3600): {url}")
        status, body = fetch(url)
        check(status == 200 and body == photo, f"share URL gave {status}, {len(body)} bytes")
        sig = q.get("X-Amz-Signature", [""])[0]
        check(len(sig) == 64, f"share URL has no SigV4 signature: {url}")
        bad = url.replace(sig, ("1" if sig[0] == "0" else "0") + sig[1:])
        try:
            fetch(bad)
            check(False, "a share URL with a tampered signature must be refused")
        except urllib.error.HTTPError as e:
            check(e.code == 403, f"tampered share URL answered {e.code}")
        ok("share link (1 hour) fetched outside the browser gives the same bytes; tampered one 403")

        clear_status(page)
        page.set_input_files("#file-input", big_path)
        upload_done(page)
        page.reload()
        r = row(page, "big.bin")
        expect(r).to_have_count(1)
        check(r.get_attribute("data-size") == str(big_size),
              f"big.bin data-size {r.get_attribute('data-size')!r}, want {big_size}")
        check(r.locator("img.thumb").count() == 0, "a non-image has no img.thumb")
        h = s3.head_object(Bucket=BUCKET, Key="big.bin")
        check(h["ContentLength"] == big_size, f"big.bin HEAD size {h['ContentLength']}")
        check(hashlib.sha256(obj("big.bin")).hexdigest() == big_sha, "big.bin reads back byte for byte")
        ok(f"20 MiB upload (ETag {h['ETag']}), data-size={big_size}, same bytes through S3")

        clear_status(page)
        page.evaluate("""b64 => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], 'dropped.png', {type: 'image/png'}));
            const drop = document.querySelector('#drop');
            for (const type of ['dragenter', 'dragover', 'drop'])
                drop.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""", base64.b64encode(dropped).decode())
        upload_done(page)
        check(obj("dropped.png") == dropped, "the dropped file reads back byte for byte")
        ok("a file dropped on #drop is uploaded")

        s3.put_object(Bucket=BUCKET, Key="albums/old.txt", Body=b"made by boto3")
        page.reload()
        folder = page.locator("tr.folder a.folder", has_text="albums")
        expect(folder).to_have_count(1)
        with page.expect_navigation():
            folder.click()
        check(page.url == f"{bucket_url}albums/", f"folder link went to {page.url}")
        clear_status(page)
        page.set_input_files("#file-input", [f"{work}/one.txt", f"{work}/two.txt"])
        upload_done(page)
        check(obj("albums/one.txt") == open(f"{work}/one.txt", "rb").read(), "albums/one.txt")
        check(obj("albums/two.txt") == open(f"{work}/two.txt", "rb").read(), "albums/two.txt")
        page.reload()
        keys = page.eval_on_selector_all("tr.object", "rs => rs.map(r => r.dataset.key)")
        check(sorted(keys) in (["albums/old.txt", "albums/one.txt", "albums/two.txt"], ["old.txt", "one.txt", "two.txt"]),
              f"albums/ lists {keys}")
        ok(f"folder row leads to albums/; two files uploaded at once land in the prefix (data-key {keys[0]!r})")

        page.goto(bucket_url)
        page.wait_for_function("() => [...document.querySelectorAll('img.thumb')].every(i => i.complete)", timeout=T)
        shot(page, "bucket.png")
        r = row(page, "photo.png")
        dialogs = []
        page.once("dialog", lambda d: (dialogs.append(d.type), d.dismiss()))
        r.locator("button.delete").click()
        page.wait_for_timeout(1000)
        check(dialogs == ["confirm"], f"delete asked {dialogs}, want one confirm()")
        check(not gone("photo.png") and row(page, "photo.png").count() == 1, "dismissing confirm() must not delete")
        page.once("dialog", lambda d: (dialogs.append(d.type), d.accept()))
        row(page, "photo.png").locator("button.delete").click()
        expect(row(page, "photo.png")).to_have_count(0)
        page.wait_for_load_state()
        expect(row(page, "photo.png")).to_have_count(0)
        expect(row(page, "big.bin")).to_have_count(1)
        for _ in range(50):
            if gone("photo.png"):
                break
            page.wait_for_timeout(100)
        check(gone("photo.png"), "photo.png still in the bucket after delete")
        ok("button.delete: dismissed confirm keeps the object, accepted one deletes it and the row")

        session = ctx.cookies()
        with page.expect_navigation():
            page.click("button#logout-submit")
        page.goto(bucket_url)
        check(shows_login(page) and page.locator("table#objects").count() == 0, "after logout the bucket page is not the login form")
        check("big.bin" not in page.content(), "after logout the page still names objects")
        ok("logout: the bucket page shows the login form")
        replay = browser.new_context()
        replay.add_cookies(session)
        rp = replay.new_page()
        rp.goto(bucket_url, timeout=T)
        check(shows_login(rp), "the session cookie from before logout still opens the bucket page")
        replay.close()
        ok("the old session cookie is dead after logout")

        check(not errors, f"uncaught errors in the console's JS: {errors}")
        browser.close()
    except Exception as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        if errors:
            print(f"uncaught JS errors: {errors}", file=sys.stderr)
        if page is not None:
            try:
                print(f"page: {page.url}\n{page.content()[:3000]}", file=sys.stderr)
                shot(page, "failure.png")
            except Exception:
                pass
        sys.exit(1)
PY
assert_no_plaintext_on_disk
ok "no plaintext in the store"
