#!/usr/bin/env bash
# s3cmd against the gateway: put (single and multipart), get with its MD5 verification, ls
# sizes, sync twice uploads nothing the second time, del.
here=$(dirname "$0")
. "$here/lib.sh"
start_gateway
host=${ENDPOINT#http://}
cat >"$WORK/s3cfg" <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $host
host_bucket = $host
use_https = False
signature_v2 = False
bucket_location = us-east-1
check_ssl_certificate = False
CFG
sc() { s3cmd -c "$WORK/s3cfg" --no-progress "$@"; }

mkdir -p "$WORK/src/sub"
make_file "$WORK/src/small.txt" 1234
make_file "$WORK/src/sub/seg.bin" 65536
make_file "$WORK/src/big.bin" $((20 * 1024 * 1024 + 7))   # above s3cmd's 15 MiB multipart chunk

sc mb s3://s3cmd-compat >/dev/null || fail "mb"
sc put "$WORK/src/small.txt" s3://s3cmd-compat/one/small.txt >/dev/null || fail "put"
sc put "$WORK/src/big.bin" s3://s3cmd-compat/one/big.bin >/dev/null || fail "multipart put"
ok "put single and multipart"
sc get s3://s3cmd-compat/one/small.txt "$WORK/small.back" 2>"$WORK/get.err" >/dev/null || { cat "$WORK/get.err"; fail "get"; }
sc get s3://s3cmd-compat/one/big.bin "$WORK/big.back" 2>>"$WORK/get.err" >/dev/null || { cat "$WORK/get.err"; fail "get big"; }
grep -qi "md5.*mismatch\|checksum" "$WORK/get.err" && { cat "$WORK/get.err"; fail "s3cmd reported an MD5 mismatch"; }
cmp "$WORK/src/small.txt" "$WORK/small.back" || fail "small differs"
cmp "$WORK/src/big.bin" "$WORK/big.back" || fail "big differs"
ok "get byte-identical, no MD5 warnings"
ls_out=$(sc ls s3://s3cmd-compat/one/)
echo "$ls_out" | grep -q " 1234 .*small.txt" || fail "ls size: $ls_out"
echo "$ls_out" | grep -q " $((20 * 1024 * 1024 + 7)) .*big.bin" || fail "ls size: $ls_out"
ok "ls shows plaintext sizes"
sc sync "$WORK/src/" s3://s3cmd-compat/tree/ >/dev/null || fail "sync"
again=$(sc sync "$WORK/src/" s3://s3cmd-compat/tree/ 2>&1) || fail "second sync: $again"
echo "$again" | grep -q "upload:" && fail "second sync uploaded again: $again"
ok "sync twice uploads nothing the second time"
sc del s3://s3cmd-compat/one/small.txt >/dev/null || fail "del"
sc ls s3://s3cmd-compat/one/ | grep -q small.txt && fail "deleted object still listed"
ok "del"
assert_no_plaintext_on_disk
ok "no plaintext in the store"
