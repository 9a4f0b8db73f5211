#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The sandbox itself: topology, cross-subnet routing, faults, start/stop/kill
# of daemons, and a teardown that leaves no namespace, process or file behind
# (tests/sandbox/selftest, with the real clusterd).
exec "$(dirname "$0")/../sandbox/selftest" --real
