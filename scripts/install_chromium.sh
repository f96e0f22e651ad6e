#!/bin/sh
# The review app's end-to-end tests drive Debian's chromium through Playwright
# (executable_path, no browser download). Install it when it is missing.
set -e
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is missing and apt-get is not available: install chromium yourself;" \
         "the browser tests skip without it." >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing chromium (apt-get) for the review app's browser tests" >&2
$SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
