#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The sandbox itself: topology, cross-subnet routing, faults, start/stop/kill
# of daemons, and a teardown that leaves no namespace, process or file behind
# (tests/sandbox/selftest, with the real clusterd). It checks that `down`
# removes everything, so it runs without the runner's keep-the-logs setting.
unset SANDBOX_KEEP
exec "$(dirname "$0")/../sandbox/selftest" --real
