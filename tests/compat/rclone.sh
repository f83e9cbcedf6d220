#!/usr/bin/env bash
# rclone against the gateway with default flags: copy, check (sizes and hashes), copy again
# transfers nothing, multipart upload (rclone's 5 MiB chunks after its cutoff), download.
here=$(dirname "$0")
. "$here/lib.sh"
start_gateway
# rclone must not pick up a CA bundle meant for other tools.
unset AWS_CA_BUNDLE
export RCLONE_CONFIG=$WORK/rclone.conf
: >"$RCLONE_CONFIG"
export RCLONE_CONFIG_GW_TYPE=s3 RCLONE_CONFIG_GW_PROVIDER=Other RCLONE_CONFIG_GW_ENV_AUTH=false
export RCLONE_CONFIG_GW_ENDPOINT=$ENDPOINT RCLONE_CONFIG_GW_REGION=us-east-1
export RCLONE_CONFIG_GW_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_GW_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
# rclone's own cutoff is 200 MiB: lowered so big.bin really goes up in 5 MiB parts.
export RCLONE_CONFIG_GW_UPLOAD_CUTOFF=10M RCLONE_CONFIG_GW_CHUNK_SIZE=5M
rc() { rclone --retries 1 --low-level-retries 1 "$@"; }

mkdir -p "$WORK/src/sub"
make_file "$WORK/src/a.txt" 1000
make_file "$WORK/src/empty.bin" 0
make_file "$WORK/src/sub/seg.bin" 65536
make_file "$WORK/src/big.bin" $((300 * 1024 * 1024 / 10 + 3))   # 30 MiB: above the multipart cutoff set above

rc mkdir gw:rclone-compat || fail "mkdir"
rc copy "$WORK/src" gw:rclone-compat/tree 2>"$WORK/copy.err" || { cat "$WORK/copy.err"; fail "copy"; }
ok "copy"
rc check "$WORK/src" gw:rclone-compat/tree 2>"$WORK/check.err" || { cat "$WORK/check.err"; fail "check"; }
grep -q "0 differences found" "$WORK/check.err" || { cat "$WORK/check.err"; fail "check output"; }
grep -q "hashes could not be checked" "$WORK/check.err" && { cat "$WORK/check.err"; fail "check compared sizes only"; }
ok "check with default flags: $(grep -o "[0-9]* matching files" "$WORK/check.err"), MD5s compared"
out=$(rc copy -v "$WORK/src" gw:rclone-compat/tree 2>&1)
echo "$out" | grep -q "Copied" && fail "second copy transferred again: $out"
ok "second copy transfers nothing"
rc copy gw:rclone-compat/tree "$WORK/back" || fail "download"
diff -r "$WORK/src" "$WORK/back" || fail "downloaded tree differs"
ok "download byte-identical"
size=$(rc size --json gw:rclone-compat/tree | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')
want=$(du -cb "$WORK/src"/a.txt "$WORK/src"/empty.bin "$WORK/src"/sub/seg.bin "$WORK/src"/big.bin | tail -1 | cut -f1)
[ "$size" = "$want" ] || fail "rclone size $size, want $want"
ok "plaintext sizes"

# Providers whose default checks a multipart upload's ETag against the MD5 of its parts' MD5s
# (AWS, Minio, Ceph, ...) need use_multipart_etag = false, as the README says: an encrypting
# store cannot answer that MD5 without keeping plaintext MD5s in the clear.
rc copyto "$WORK/src/big.bin" gw:rclone-compat/minio/big.bin --s3-provider Minio \
    --s3-upload-cutoff 5M --s3-chunk-size 5M --s3-use-multipart-etag=false 2>"$WORK/minio.err" || { cat "$WORK/minio.err"; fail "provider Minio"; }
rc check "$WORK/src" gw:rclone-compat/minio/ --s3-provider Minio --include big.bin \
    2>"$WORK/minio-check.err" || { cat "$WORK/minio-check.err"; fail "provider Minio check"; }
ok "provider Minio with use_multipart_etag = false"
assert_no_plaintext_on_disk
ok "no plaintext in the store"
