#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The copy engine between two namespaces of its own (no sandbox, no corosync):
# 1 GiB of random data through 1 stream (unframed splice), 1 stream framed,
# both again with the sink's sha256 carried back after the end (the return path),
# 4 streams, 2 links (two veth pairs), and 1 stream with --congestion reno
# (the return path too) arrives with the same sha256; then
# faults: the receiver killed mid-stream (the sender fails with a clear
# message within a deadline), a wrong key (refused, nothing delivered), a
# source killed mid-stream, unframed and framed (the receiver says
# "truncated"), --backend rdma without an RDMA device and --congestion with
# a name the kernel does not have (clear errors, exit 2).
# The RDMA data path itself is NOT exercised: it needs RDMA hardware.
#   MCOPY_IT_BYTES  size of the random payload (default 1 GiB)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
mcopy=${MCOPY:-}
for d in ${top_builddir:-} "$top_srcdir" "$top_srcdir/build" "$top_srcdir/build-tests"; do
	[ -z "$mcopy" ] && [ -x "$d/migrate/clusterd-mcopy" ] && mcopy=$d/migrate/clusterd-mcopy
done
[ -n "$mcopy" ] || { echo "SKIP: clusterd-mcopy not built (set MCOPY or top_builddir)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
command -v socat >/dev/null || { echo "SKIP: socat not installed"; exit 77; }
bytes=${MCOPY_IT_BYTES:-1073741824}
a=mc-$$-a b=mc-$$-b
work=$(mktemp -d /tmp/clusterd-mcopy-it.XXXXXX)
pids=()

fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$a" 2>/dev/null
	ip netns del "$b" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$a" && ip netns add "$b" || fail "cannot create namespaces"
for l in 1 2; do
	ip link add mc$$a$l type veth peer name mc$$b$l || fail "cannot create veth pair $l"
	ip link set mc$$a$l netns "$a"
	ip link set mc$$b$l netns "$b"
	ip -n "$a" addr add 10.78.$l.1/24 dev mc$$a$l
	ip -n "$b" addr add 10.78.$l.2/24 dev mc$$b$l
	ip -n "$a" link set mc$$a$l up
	ip -n "$b" link set mc$$b$l up
done
ip -n "$a" link set lo up
ip -n "$b" link set lo up
head -c 48 /dev/urandom >"$work/key"
head -c 48 /dev/urandom >"$work/badkey"
head -c "$bytes" /dev/urandom >"$work/data"
want=$(sha256sum <"$work/data" | cut -d' ' -f1)

# wait_until DESC CMD...: poll CMD every 50 ms for at most 10 s
wait_until() {
	local desc=$1 i
	shift
	for i in $(seq 200); do "$@" && return 0; sleep 0.05; done
	fail "timed out waiting for $desc"
}
listening() { ip netns exec "$b" ss -Hltn "sport = :$1" | grep -q .; }

# transfer NAME SEND_ARGS RECV_ARGS [back]: data -> unix -> send -> recv ->
# unix -> sha256. With "back" the sum travels the other way, as QEMU's return
# path does: the sink answers on its unix socket only after the data's end,
# and the source reads the answer on the socket it wrote the data to.
transfer() {
	local name=$1 sargs=$2 rargs=$3 back=${4:-} got rc
	rm -f "$work"/*.sock "$work/sum"
	if [ -n "$back" ]; then
		ip netns exec "$b" socat -t 30 UNIX-LISTEN:"$work/sink.sock" EXEC:sha256sum &
	else
		( ip netns exec "$b" socat -u UNIX-LISTEN:"$work/sink.sock" - | sha256sum | cut -d' ' -f1 >"$work/sum" ) &
	fi
	pids+=($!)
	wait_until "the sink" test -S "$work/sink.sock"
	# shellcheck disable=SC2086
	ip netns exec "$b" timeout 120 "$mcopy" recv -k "$work/key" -m 11 $rargs -u "$work/sink.sock" \
		2>"$work/recv.log" &
	pids+=($!)
	wait_until "recv" listening 5200
	# shellcheck disable=SC2086
	ip netns exec "$a" timeout 120 "$mcopy" send -k "$work/key" -m 11 $sargs -u "$work/src.sock" \
		2>"$work/send.log" &
	pids+=($!)
	wait_until "send" test -S "$work/src.sock"
	if [ -n "$back" ]; then
		ip netns exec "$a" socat -t 60 - UNIX-CONNECT:"$work/src.sock" <"$work/data" | cut -d' ' -f1 >"$work/sum" ||
			fail "$name: source failed"
	else
		ip netns exec "$a" socat -u FILE:"$work/data" UNIX-CONNECT:"$work/src.sock" || fail "$name: source failed"
	fi
	for p in "${pids[@]}"; do
		wait "$p"
		rc=$?
		[ $rc = 0 ] || { cat "$work/send.log" "$work/recv.log" >&2; fail "$name: a process exited $rc"; }
	done
	pids=()
	got=$(cat "$work/sum")
	[ "$got" = "$want" ] || fail "$name: sha256 differs ($got != $want)"
	echo "ok: $name: $bytes bytes, sha256 equal; $(grep -o 'done: .*' "$work/send.log")"
}

transfer "1 stream" "-t 10.78.1.2:5200" "-l 10.78.1.2:5200"
grep -q 'unframed splice' "$work/send.log" || fail "1 stream: not carried unframed"
transfer "1 stream framed" "-t 10.78.1.2:5200 --framed" "-l 10.78.1.2:5200"
# the return path after the source's end: raw (a FIN ends one direction only) and framed
transfer "1 stream, sum back" "-t 10.78.1.2:5200" "-l 10.78.1.2:5200" back
transfer "1 stream framed, sum back" "-t 10.78.1.2:5200 --framed" "-l 10.78.1.2:5200" back
transfer "4 streams" "-t 10.78.1.2:5200 -s 4" "-l 10.78.1.2:5200"
link_rx() { ip netns exec "$b" cat /sys/class/net/mc$$b$1/statistics/rx_bytes; }
rx0=([1]=$(link_rx 1) [2]=$(link_rx 2))
transfer "2 links" "-t 10.78.1.2:5200 -t 10.78.2.2:5200 -s 2" "-l 10.78.1.2:5200 -l 10.78.2.2:5200"
# both links carried a real share of it. Not half each: a frame goes to
# whichever stream takes it next (round robin over the writable ones), so
# a link that is slower at the moment takes less; under load (a sanitizer
# build in CI) a 23/77 split was seen. An eighth each shows both carried it.
for l in 1 2; do
	rx[l]=$(($(link_rx $l) - rx0[l]))
done
for l in 1 2; do
	[ "${rx[l]}" -gt $((bytes / 8)) ] ||
		fail "2 links: link $l carried only ${rx[l]} of $bytes bytes (link 1: ${rx[1]}, link 2: ${rx[2]})"
done
echo "ok: 2 links: link 1 carried ${rx[1]} bytes, link 2 ${rx[2]} (with headers)"
# another congestion control on the streams (reno is always built in), both directions
transfer "1 stream, --congestion reno, sum back" "-t 10.78.1.2:5200 --congestion reno" \
	"-l 10.78.1.2:5200 --congestion reno" back
grep -q 'congestion control reno' "$work/send.log" || fail "--congestion reno: not in the sender's log"

# Fault 1: the receiver is killed mid-stream; the sender must fail clearly within 15 s.
ip netns exec "$b" "$mcopy" recv -k "$work/key" -m 12 -l 10.78.1.2:5200 -o /dev/null 2>"$work/recv.log" &
rpid=$!
wait_until "recv" listening 5200
start=$SECONDS
ip netns exec "$a" "$mcopy" send -k "$work/key" -m 12 -t 10.78.1.2:5200 -i /dev/zero -b 800 \
	2>"$work/send.log" &
spid=$!
wait_until "data to flow" grep -q 'backend' "$work/send.log"
sleep 1 # let data flow for a second: the point of the test is "mid-stream"
kill -9 "$rpid"
wait "$rpid" 2>/dev/null
for i in $(seq 300); do kill -0 "$spid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$spid" 2>/dev/null && { kill "$spid"; fail "kill receiver: the sender still runs 15 s later"; }
wait "$spid"
rc=$?
[ $rc != 0 ] || fail "kill receiver: the sender exited 0"
grep -Eq 'failed: .*(writing to the target|receiving from the target).*(reset|Broken pipe|truncated)' \
	"$work/send.log" || { cat "$work/send.log" >&2; fail "kill receiver: no clear message"; }
echo "ok: receiver killed: sender exited $rc after $((SECONDS - start)) s: $(grep -o 'failed: .*' "$work/send.log")"

# Fault 2: wrong key: refused by both sides, not one byte delivered.
ip netns exec "$b" timeout 30 "$mcopy" recv -k "$work/key" -m 13 -l 10.78.1.2:5200 -o "$work/out" \
	--setup-timeout 3 2>"$work/recv.log" &
rpid=$!
wait_until "recv" listening 5200
ip netns exec "$a" timeout 30 "$mcopy" send -k "$work/badkey" -m 13 -t 10.78.1.2:5200 -i "$work/data" \
	2>"$work/send.log" && fail "wrong key: the sender succeeded"
wait "$rpid" && fail "wrong key: the receiver succeeded"
grep -q 'authentication failed' "$work/send.log" || fail "wrong key: sender did not say why"
grep -q 'dropped a stream.*authentication failed' "$work/recv.log" || fail "wrong key: receiver did not report the peer"
[ ! -s "$work/out" ] || fail "wrong key: $(stat -c %s "$work/out") bytes were delivered"
echo "ok: wrong key: refused on both sides, 0 bytes delivered"

# Fault 3: a source that dies mid-stream: killed while data is in flight, the
# receiver must say "truncated" — unframed (the source's socket has SO_LINGER 0:
# the kernel resets it when the process dies) and framed (the stream ends inside
# a frame or before END).
for mode in unframed framed; do
	opt=
	[ $mode = framed ] && opt=--framed
	ip netns exec "$b" timeout 30 "$mcopy" recv -k "$work/key" -m 14 -l 10.78.1.2:5200 -o /dev/null \
		2>"$work/recv.log" &
	rpid=$!
	wait_until "recv" listening 5200
	# shellcheck disable=SC2086
	ip netns exec "$a" "$mcopy" send -k "$work/key" -m 14 -t 10.78.1.2:5200 -i /dev/zero -b 800 $opt \
		2>"$work/send.log" &
	spid=$!
	wait_until "data to flow" grep -q 'backend' "$work/send.log"
	sleep 1 # mid-stream, as above
	kill -9 "$spid"
	wait "$spid" 2>/dev/null
	wait "$rpid" && fail "truncated ($mode): the receiver exited 0"
	grep -q 'truncated' "$work/recv.log" || { cat "$work/recv.log" >&2; fail "truncated ($mode): no clear error"; }
	echo "ok: truncated stream ($mode): $(grep -o 'failed: .*' "$work/recv.log")"
done

# RDMA requested where no RDMA device reaches the peer: a clear error, exit
# nonzero, before anything listens or connects. (With a device this would
# start the RDMA data path, which this test cannot check.)
if ls /sys/class/infiniband/* >/dev/null 2>&1; then
	echo "skip: --backend rdma refusal: this machine has an RDMA device"
else
	ip netns exec "$a" timeout 10 "$mcopy" send -k "$work/key" -m 15 -t 10.78.1.2:5200 -i "$work/data" \
		--backend rdma 2>"$work/send.log" && fail "rdma without a device: the sender exited 0"
	grep -Eq 'backend rdma unavailable: .*(no RDMA device|without RDMA)' "$work/send.log" ||
		{ cat "$work/send.log" >&2; fail "rdma without a device: no clear error"; }
	echo "ok: --backend rdma without a device: $(grep -o 'backend rdma unavailable: .*' "$work/send.log")"
fi
ip netns exec "$a" timeout 10 "$mcopy" send -k "$work/key" -m 16 -t 10.78.1.2:5200 -i "$work/data" \
	--congestion no-such-cc 2>"$work/send.log"
rc=$?
if [ $rc != 2 ] || ! grep -q -- '--congestion no-such-cc: not available' "$work/send.log"; then
	cat "$work/send.log" >&2
	fail "--congestion no-such-cc: exit $rc, not 2 with a clear error"
fi
echo "ok: --congestion no-such-cc: exit 2, $(cat "$work/send.log")"
echo "note: the RDMA data path (verbs) was NOT exercised: no RDMA device here"
echo "PASS: test-mcopy-integrity"
