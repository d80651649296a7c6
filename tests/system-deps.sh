#!/bin/sh
# Install the Debian packages some tests need, when missing and when we can (root + apt).
# Without them those tests skip with a reason; CI and a fresh machine as root get them.
missing=""
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"     # interactive Claude Code sessions
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing from Debian:$missing"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
else
    echo "note: not installing$missing (needs root and apt-get); the tests that need them will skip"
fi
