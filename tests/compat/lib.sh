# Shared helpers for the compatibility scripts: start the real s3seal binary on the embedded
# default in a temp dir, on a free loopback port, and export credentials for the tools.
set -euo pipefail

: "${S3SEAL_BIN:?set S3SEAL_BIN to the s3seal binary (scripts/test does)}"
WORK=$(mktemp -d /tmp/s3seal-compat.XXXX)
GW_LOG=$WORK/gateway.log

start_gateway() {
  (cd "$WORK" && exec "$S3SEAL_BIN" serve --listen 127.0.0.1:0 --console-listen 127.0.0.1:0 >"$WORK/banner" 2>"$GW_LOG") &
  GW_PID=$!
  for _ in $(seq 100); do
    grep -q "secret key:" "$WORK/banner" 2>/dev/null && break
    sleep 0.1
  done
  ENDPOINT=$(head -1 "$WORK/banner" | awk '{print $NF}')
  # The console has its own listener (another origin); the banner prints its URL.
  CONSOLE_URL=$(awk '/web console:/ {print $3}' "$WORK/banner")
  export AWS_ACCESS_KEY_ID=$(awk '/access key:/ {print $3}' "$WORK/banner")
  export AWS_SECRET_ACCESS_KEY=$(awk '/secret key:/ {print $3}' "$WORK/banner")
  export AWS_DEFAULT_REGION=us-east-1
  [ -n "$ENDPOINT" ] && [ -n "$AWS_SECRET_ACCESS_KEY" ] || { cat "$WORK/banner" "$GW_LOG"; fail "gateway did not start"; }
}

stop_gateway() {
  [ -n "${GW_PID:-}" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null || true
}

cleanup() { stop_gateway; rm -rf "$WORK"; }
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# Bytes that are easy to recognise if they ever show up on disk.
make_file() { # path size
  python3 -c "import sys; n=int(sys.argv[2]); p=b'S3SEAL-PLAINTEXT-MARKER-'; open(sys.argv[1],'wb').write((p*(n//len(p)+1))[:n])" "$1" "$2"
}

# Fails if the marker plaintext appears anywhere under the data directory.
assert_no_plaintext_on_disk() {
  if grep -rqa "S3SEAL-PLAINTEXT-MARKER" "$WORK/data"; then
    fail "plaintext found in the store: $(grep -rla S3SEAL-PLAINTEXT-MARKER "$WORK/data" | head -3)"
  fi
}
