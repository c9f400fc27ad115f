#!/usr/bin/env bash
# CI stage: the user web portal in a real browser. Installs Debian's chromium when it is not
# there (playwright-core never downloads a browser), type-checks and lints the browser test,
# then runs it (`npm run test:browser`: the broker on the simulator, chromium headless).
#
#   CHROMIUM_PATH  the browser to drive (default /usr/bin/chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/apt-install.sh
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

[ -x "$CHROMIUM_PATH" ] || apt_install chromium
echo "== $("$CHROMIUM_PATH" --version 2>/dev/null || echo "$CHROMIUM_PATH")"

if [ ! -d node_modules/playwright-core ]; then
  echo "node_modules/playwright-core is missing: run npm ci first"
  exit 1
fi

echo "== portal browser test: types and lint"
npx tsc --noEmit -p test-browser
npx biome check test-browser
echo "== portal browser test"
npm run test:browser
