# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/lib.sh: shared helpers for the benchmarks — where the built binaries
# are, and the RESULT line every benchmark ends with.

bench_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# bench_find_bin REL: a built binary, from $top_builddir, the in-tree build,
# or build/ beside the sources (the demo's build); prefers non-sanitizer builds.
bench_find_bin() {
	local rel=$1 d
	for d in ${top_builddir:-} "$bench_src" "$bench_src/build" "$bench_src/build-tests"; do
		if [ -n "$d" ] && [ -x "$d/$rel" ]; then
			echo "$d/$rel"
			return 0
		fi
	done
	echo "bench: $rel not built (run ./autogen.sh && ./configure && make, or set top_builddir)" >&2
	return 1
}

# bench_is_sanitized BIN: true when BIN was built with ASan (numbers not representative)
bench_is_sanitized() {
	ldd "$1" 2>/dev/null | grep -q libasan
}

# bench_result NAME FIGURE BASELINE TARGET_TEXT MET(0|1)
bench_result() {
	local ratio
	ratio=$(awk -v f="$2" -v b="$3" 'BEGIN { if (b > 0) printf "%.3f", f / b; else print "inf" }')
	echo "RESULT $1 figure=$2 baseline=$3 ratio=$ratio target=$4 $([ "$5" = 1 ] && echo met || echo missed)"
}
