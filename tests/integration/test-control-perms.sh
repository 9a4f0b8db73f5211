#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The control socket: root reads; a user outside the configured groups is
# refused with a clear message (exit 1, EPERM) and nothing breaks; garbage
# and an over-long request get errors, never a crash; a wrong socket path
# exits 3 naming the path.
. "$(dirname "$0")/lib.sh"
sb_require_cmd jq corosync setpriv

sb_up --nodes 2 --profile fast
it_wait_json n1 nodes .quorate true 20 || sb_fail "not settled"
sock=/run/clusterd/clusterd.sock
out=$(sb exec n1 setpriv --reuid=65534 --regid=65534 --clear-groups "$CLUSTERCTL" status 2>&1)
rc=$?
echo "as nobody: exit $rc: $out"
[ $rc = 1 ] || [ $rc = 3 ] || sb_fail "nobody got exit $rc"
grep -qiE 'EPERM|permission denied' <<<"$out" || sb_fail "refusal does not say why: $out"
# malformed and oversized requests straight to the socket
junk=$(sb exec n1 bash -c "printf 'not json\n{\"cmd\": 5}\n{\"cmd\":\"nope\"}\n' | timeout 5 socat - UNIX-CONNECT:$sock" 2>&1)
echo "$junk"
[ "$(grep -c '"ok": *false' <<<"$junk")" = 3 ] || sb_fail "expected 3 error replies, got: $junk"
grep -q EINVAL <<<"$junk" && grep -q ENOSYS <<<"$junk" || sb_fail "wrong codes: $junk"
big=$(sb exec n1 bash -c "head -c 70000 /dev/zero | tr '\\0' a | timeout 5 socat - UNIX-CONNECT:$sock" 2>&1)
grep -q E2BIG <<<"$big" || sb_fail "oversized request not refused: ${big:0:200}"
kill -0 "$(sb pid n1 clusterd)" || sb_fail "clusterd died"
it_wait_json n1 nodes .quorate true 5 || sb_fail "clusterd no longer answers"
out=$(sb exec n1 "$CLUSTERCTL" -s /nonexistent/x.sock status 2>&1)
rc=$?
[ $rc = 3 ] || sb_fail "unreachable daemon: exit $rc, want 3"
grep -q /nonexistent/x.sock <<<"$out" || sb_fail "unreachable message does not name the socket: $out"
echo "refused nobody (EPERM), answered garbage with errors, exit 3 naming the socket"
