#!/usr/bin/env bash
# Command-line tools the tests drive, from Debian's packages, installed once:
#   promtool  (package prometheus): extracted into the virtual environment's bin; the package's
#             service is not installed or started.
#   chromium  (package chromium): the headless browser for the status-page test.
# Needs root or sudo for apt-get; does nothing when both are already there.
set -euo pipefail
VENV_BIN=${1:?usage: tools.sh VENV_BIN}

SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
updated=""
apt_update() {
    if [ -z "$updated" ]; then
        $SUDO apt-get update -qq
        updated=1
    fi
}

if ! command -v promtool >/dev/null && [ ! -x "$VENV_BIN/promtool" ]; then
    apt_update
    work=$(mktemp -d)
    chmod 777 "$work"  # apt downloads as its own user (_apt)
    (cd "$work" && apt-get download -qq prometheus && dpkg-deb -x prometheus_*.deb extracted)
    install -m 0755 "$work/extracted/usr/bin/promtool" "$VENV_BIN/promtool"
    rm -rf "$work"
fi

if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    apt_update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
