#!/usr/bin/env bash
# CI stage: the web desktop end to end. Installs what the browser test drives when it is not
# there (Debian's chromium, TigerVNC's Xvnc as the desktop, xsetroot to draw on it, xev to
# see the keys arrive, xclip for its clipboard), type-checks and lints the test, then runs it (`npm run
# test:web-desktop`: the broker on the simulator, Xvnc on a loopback address, chromium headless).
# The gateway's refusals (tickets, Origin, forged host or port) are in npm test.
#
#   CHROMIUM_PATH  the browser to drive (default /usr/bin/chromium)
#   ARTIFACTS_DIR  where the screenshot goes (default .data/artifacts)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/apt-install.sh
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

missing=()
[ -x "$CHROMIUM_PATH" ] || missing+=(chromium)
command -v Xvnc >/dev/null || missing+=(tigervnc-standalone-server)
command -v xsetroot >/dev/null || missing+=(x11-xserver-utils)
command -v xev >/dev/null || missing+=(x11-utils)
command -v xclip >/dev/null || missing+=(xclip)
[ "${#missing[@]}" -eq 0 ] || apt_install --no-install-recommends "${missing[@]}"
echo "== $("$CHROMIUM_PATH" --version 2>/dev/null || echo "$CHROMIUM_PATH"); $(Xvnc -version 2>&1 | grep -m1 TigerVNC || echo Xvnc)"

if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/@novnc/novnc ]; then
  echo "node_modules is incomplete: run npm ci first"
  exit 1
fi

echo "== web desktop browser test: types and lint"
npx tsc --noEmit -p test-browser
npx biome check test-browser
echo "== web desktop browser test"
npm run test:web-desktop
