#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# clusterd --check-config on the shipped example (with a key) says
# "configuration OK"; on a broken file it exits 1 and names file, line and
# key of every problem; a usage error exits 2.
set -u
: "${CLUSTERD:?}"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

head -c 64 /dev/urandom > "$d/cluster.key"
sed "s#key_file = \"[^\"]*\"#key_file = \"$d/cluster.key\"#" "$top_srcdir/configs/clusterd.conf" > "$d/ok.conf"
out=$("$CLUSTERD" --check-config -c "$d/ok.conf" 2>&1) || fail "example config rejected: $out"
[ "$out" = "configuration OK" ] || fail "unexpected output: $out"

sed -e 's/same_subnet_delay_ms = 1000;/same_subnet_delay_ms = 20;/' \
	-e 's/max_concurrent = 2;/max_concurrent = 2; colour = "blue";/' "$d/ok.conf" > "$d/bad.conf"
delay_line=$(grep -n 'same_subnet_delay_ms = 20;' "$d/bad.conf" | cut -d: -f1)
colour_line=$(grep -n 'colour = ' "$d/bad.conf" | cut -d: -f1)
out=$("$CLUSTERD" --check-config -c "$d/bad.conf" 2>&1)
rc=$?
[ $rc = 1 ] || fail "bad config: exit $rc, want 1"
grep -q "^$d/bad.conf:$delay_line: heartbeat.same_subnet_delay_ms: .*50" <<<"$out" ||
	fail "delay error not reported with file:line:key: $out"
grep -q "^$d/bad.conf:$colour_line: migration.colour: " <<<"$out" ||
	fail "unknown key not reported with file:line:key: $out"
echo "$out" | sed 's/^/  /'

# migration.congestion: one this kernel offers is OK; an unknown one is
# refused before the daemon would start (the file itself is valid)
sed 's/mcopy_port = 49300;/mcopy_port = 49300; congestion = "reno";/' "$d/ok.conf" >"$d/cc.conf"
out=$("$CLUSTERD" --check-config -c "$d/cc.conf" 2>&1) || fail "congestion reno rejected: $out"
sed 's/mcopy_port = 49300;/mcopy_port = 49300; congestion = "nosuch_cc";/' "$d/ok.conf" >"$d/cc-bad.conf"
out=$("$CLUSTERD" --check-config -c "$d/cc-bad.conf" 2>&1)
rc=$?
[ $rc = 1 ] || fail "unknown congestion control: exit $rc, want 1 ($out)"
grep -q "^$d/cc-bad.conf: migration.congestion: \"nosuch_cc\" is not offered by this kernel: not available here" <<<"$out" ||
	fail "unknown congestion control not named: $out"
echo "  $out"

out=$("$CLUSTERD" --check-config -c "$d/missing.conf" 2>&1)
[ $? = 1 ] || fail "missing file should exit 1"
grep -q "missing.conf" <<<"$out" || fail "missing file not named: $out"
"$CLUSTERD" --bogus >/dev/null 2>&1
[ $? = 2 ] || fail "usage error should exit 2"
echo "check-config: OK on the example, errors with file:line:key, exit codes 0/1/2"
