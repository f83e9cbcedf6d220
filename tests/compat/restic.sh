#!/usr/bin/env bash
# restic against the gateway (its S3 backend, minio-go underneath): init, two backups (the
# second deduplicates), check --read-data (reads and verifies every pack), restore and a
# byte-for-byte comparison, forget --prune (deletes and rewrites packs), and a restore again.
here=$(dirname "$0")
. "$here/lib.sh"
start_gateway
export RESTIC_PASSWORD=compat-test-password
export RESTIC_REPOSITORY="s3:$ENDPOINT/restic-compat"
export RESTIC_CACHE_DIR=$WORK/restic-cache
r() { restic --quiet "$@"; }

mkdir -p "$WORK/src/deep/er" "$WORK/src/odd names"
make_file "$WORK/src/small.txt" 1234
make_file "$WORK/src/deep/er/seg.bin" 65536
make_file "$WORK/src/big.bin" $((24 * 1024 * 1024 + 5))   # several restic packs
make_file "$WORK/src/odd names/a+b c.txt" 777
: >"$WORK/src/empty"

r init >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log"; fail "init"; }
r backup "$WORK/src" >"$WORK/b1.log" 2>&1 || { cat "$WORK/b1.log"; fail "first backup"; }
make_file "$WORK/src/later.txt" 4321
r backup "$WORK/src" >"$WORK/b2.log" 2>&1 || { cat "$WORK/b2.log"; fail "second backup"; }
[ "$(r snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] ||
  fail "expected two snapshots"
ok "init and two backups"

r check --read-data >"$WORK/check.log" 2>&1 || { cat "$WORK/check.log"; fail "check --read-data"; }
ok "check --read-data"

r restore latest --target "$WORK/restore" >"$WORK/restore.log" 2>&1 ||
  { cat "$WORK/restore.log"; fail "restore"; }
diff -r "$WORK/src" "$WORK/restore$WORK/src" || fail "restored tree differs from the source"
ok "restore is byte-identical"

r forget --keep-last 1 --prune >"$WORK/prune.log" 2>&1 || { cat "$WORK/prune.log"; fail "forget --prune"; }
r check --read-data >"$WORK/check2.log" 2>&1 || { cat "$WORK/check2.log"; fail "check after prune"; }
rm -rf "$WORK/restore"
r restore latest --target "$WORK/restore" >/dev/null 2>&1 || fail "restore after prune"
diff -r "$WORK/src" "$WORK/restore$WORK/src" || fail "restored tree differs after prune"
ok "forget --prune, check and restore again"
