#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 20% random loss in and out of one node's cluster link for 60 s, heartbeat
# 100 ms x 10: the link is seen LOSSY (the loss is real) but never DOWN, and
# no node is ever DEGRADED or DOWN. Then 100% loss: DOWN as it must be.
. "$(dirname "$0")/lib.sh"

LOSS_SECONDS=${LOSS_SECONDS:-60}
HB_DELAY_MS=100 HB_THRESHOLD=10 sb_up --nodes 3 --profile fast
it_wait_all_up

m1=$(sb_log_lines n1) m2=$(sb_log_lines n2) m3=$(sb_log_lines n3)
sb drop n2 cluster 20
sleep "$LOSS_SECONDS" # the length of the loss period under test, not a wait for an event
kill -USR1 "$(sb pid n1)"
sb_wait_log n1 'status: link n2/cluster: ' 5 "$m1" || sb_fail "n1 did not log its status"
line=$(sb_grep_log n1 'status: link n2/cluster: ' "$m1")
echo "n1 after ${LOSS_SECONDS} s: ${line#* status: }"
lost=$(sed -n 's/.* lost \([0-9]*\) .*/\1/p' <<<"$line")
[ "${lost:-0}" -gt 0 ] || sb_fail "no heartbeat was lost: the drop rule did not work ($line)"
sb_wait_log n1 'link n2/cluster: [a-z]+ -> lossy' 1 "$m1" || sb_fail "n1 never saw n2/cluster lossy"
for n in n1 n2 n3; do
	from=$m1; [ $n = n2 ] && from=$m2; [ $n = n3 ] && from=$m3
	it_assert_no $n 'link n[0-9]+/[a-z]+: [a-z]+ -> down' "$from" "false DOWN under 20% loss"
	it_assert_no $n 'node n[0-9]+: [a-z]+ -> (down|degraded)' "$from" "false node failure under 20% loss"
done

m1=$(sb_log_lines n1)
sb drop n2 cluster 100
sb_wait_log n1 'link n2/cluster: [a-z]+ -> down' 10 "$m1" || sb_fail "100% loss not detected"
sb heal
echo "20% loss: lossy ($lost lost), never down; 100% loss: down"
