#!/bin/sh
# System packages some tests use, installed by `make test` when missing:
#   chromium      the review app's end-to-end tests drive it through Playwright
#                 (executable_path; Playwright never downloads a browser)
#   wordnet-base  WordNet 3.0, to check that scripts/make_imagenet_groups.py reproduces the
#                 class-group table shipped in the package
# Without apt-get (or without permission) the tests that need them skip with a reason.
set -e
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -f /usr/share/wordnet/data.noun ] || missing="$missing wordnet-base"
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing:$missing; no apt-get here, so the tests that need them will skip" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "missing:$missing; not root and no sudo, so the tests that need them will skip" >&2
        exit 0
    fi
fi
echo "installing$missing (apt-get) for the test suite" >&2
$SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing >/dev/null
