#!/usr/bin/env bash
# CI stage: the admin dashboard in a real browser. Installs Debian's chromium when it is not
# there (playwright-core never downloads a browser), type-checks the dashboard's browser
# modules (// @ts-check JavaScript, src/admin/dashboard/tsconfig.json) and the browser test,
# then runs it (`npm run test:dashboard`: rs-server on the simulator, chromium headless). The
# test writes its screenshots to docs/dashboard/ (CI artifacts; docs/dashboard.md lists them).
#
#   CHROMIUM_PATH  the browser to drive (default /usr/bin/chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/apt-install.sh
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

[ -x "$CHROMIUM_PATH" ] || apt_install chromium
echo "== $("$CHROMIUM_PATH" --version 2>/dev/null || echo "$CHROMIUM_PATH")"

for pkg in playwright-core preact htm uplot; do
  if [ ! -d "node_modules/$pkg" ]; then
    echo "node_modules/$pkg is missing: run npm ci first"
    exit 1
  fi
done

echo "== the admin dashboard in a real browser: types of the browser modules and of the browser test, lint"
npx tsc --noEmit -p src/admin/dashboard
npx tsc --noEmit -p test-browser
npx biome check test-browser src/admin/dashboard
echo "== dashboard browser test"
npm run test:dashboard
