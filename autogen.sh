#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# autogen.sh: regenerate the build system (configure, Makefile.in) from a git checkout.
set -e
cd "$(dirname "$0")"
autoreconf --install --force --warnings=all
