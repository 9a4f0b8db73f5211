#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Garbage sent to the heartbeat port from a peer's address and from a foreign
# address: counted as rejected, never trusted; the daemon keeps running and
# every link stays UP.
. "$(dirname "$0")/lib.sh"

sb_up --nodes 2 --profile fast
it_wait_all_up

m1=$(sb_log_lines n1)
# 500 junk datagrams of assorted sizes from n2 to n1's cluster address
sb exec n2 bash -c '
	for i in $(seq 500); do
		head -c $((i % 200 + 1)) /dev/urandom > /dev/udp/10.99.1.1/3343 || exit 1
	done'  || sb_fail "could not send junk"
# a valid-looking size with a wrong key is just as junk: 96 bytes starting with the magic
sb exec n2 bash -c 'for i in $(seq 50); do { printf "CLHB\x01\x01\x00\x60"; head -c 88 /dev/urandom; } > /dev/udp/10.99.1.1/3343; done' ||
	sb_fail "could not send forged packets"
kill -USR1 "$(sb pid n1)"
sb_wait_log n1 'status: heartbeat datagrams' 5 "$m1" || sb_fail "n1 did not log its status"
line=$(sb_grep_log n1 'status: heartbeat datagrams' "$m1")
echo "${line#* status: }"
rejected=$(sed -n 's/.*rejected \([0-9]*\),.*/\1/p' <<<"$line")
[ "${rejected:-0}" -ge 550 ] || sb_fail "expected >= 550 rejected datagrams: $line"
kill -0 "$(sb pid n1)" || sb_fail "n1's clusterd died"
it_assert_no n1 '-> (down|lossy|degraded)' "$m1" "junk disturbed the links"
echo "550 junk datagrams rejected; links undisturbed"
