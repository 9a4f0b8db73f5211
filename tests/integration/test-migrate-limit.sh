#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# migration.max_concurrent observed: three guests on n1 are all asked to
# move to n2 at once, first with max_concurrent = 1, then 2. Polling the
# replicated table all along, never more than the limit run at once, the
# others wait as "queued", the limit is reached, and all three arrive.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

for limit in 1 2; do
	MIG_SETTINGS="max_concurrent = $limit;" sb_up --nodes 2 --libvirt
	for g in a b c; do
		sb guest-start n1 "vm$g" --mem 128 --dirty-mb 32 --dirty-rate 30 || sb_fail "guest-start vm$g failed"
	done
	for g in a b c; do sb_guest_wait_tick n1 "vm$g" 2 90 >/dev/null || sb_fail "vm$g did not start"; done
	it_wait_json n1 vms '[.vms[] | select(.node == "n1")] | length' 3 20 || sb_fail "n1 does not list 3 VMs"
	for g in a b c; do
		it_ctl n1 migrate "vm$g" n2 >/dev/null || sb_fail "migrate vm$g refused"
	done
	max_running=0 saw_queued=0 deadline=$((SECONDS + 180))
	while :; do
		read -r running queued done < <(it_json n1 migrations \
			'[([.migrations[] | select(.state == "running" or .state == "requested")] | length),
			  ([.migrations[] | select(.state == "queued")] | length),
			  ([.migrations[] | select(.state == "succeeded")] | length)] | map(tostring) | join(" ")' | tr -d '"')
		[ "${running:-0}" -gt "$max_running" ] && max_running=$running
		[ "${queued:-0}" -gt 0 ] && saw_queued=1
		[ "${done:-0}" = 3 ] && break
		[ $SECONDS -lt $deadline ] || sb_fail "limit $limit: the three migrations did not all succeed: $(it_ctl n1 migrations)"
		sleep 0.1
	done
	echo "max_concurrent $limit: at most $max_running at once, queued seen: $saw_queued, all 3 succeeded"
	[ "$max_running" -le "$limit" ] || sb_fail "limit $limit exceeded: $max_running at once"
	[ "$max_running" = "$limit" ] || sb_fail "limit $limit never reached (at most $max_running at once)"
	[ "$saw_queued" = 1 ] || sb_fail "limit $limit: no migration ever waited"
	it_wait_json n2 vms '[.vms[] | select(.node == "n2" and .state == "running")] | length' 3 20 ||
		sb_fail "n2 does not run the three VMs"
	sb_down
	SB_UP_DONE=0
done
