#!/usr/bin/env bash
# CI stage: what ships for operators. The systemd unit and its sysusers file are checked by
# systemd's own tools (installed from Debian when missing), which report problems without
# failing: any line they print about our files fails the stage. LICENSE is the Apache-2.0 text.
set -euo pipefail
echo "== packaging: systemd unit, sysusers, LICENSE"
cd "$(dirname "$0")/.."
. .ci/apt-install.sh

command -v systemd-analyze >/dev/null || apt_install --no-install-recommends systemd

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unit="$work/rs-server.service"
cp packaging/systemd/rs-server.service "$unit"
# The unit runs Debian's node (/usr/bin/node); a CI machine with node elsewhere checks the
# rest of the unit against its own.
node_bin=$(command -v node)
if [ ! -x /usr/bin/node ]; then sed -i "s#/usr/bin/node#$node_bin#" "$unit"; fi

echo "== systemd-analyze verify rs-server.service"
out=$(systemd-analyze verify "$unit" 2>&1) || { echo "$out"; exit 1; }
echo "$out" | sed 's/^/  (systemd) /'
if echo "$out" | grep -q "rs-server"; then
  echo "systemd-analyze found problems in the unit (above)"
  exit 1
fi
grep -q '^User=rs-server$' "$unit" || { echo "the unit does not run under the rs-server user"; exit 1; }

echo "== systemd-sysusers --dry-run rs-server.sysusers"
out=$(systemd-sysusers --dry-run "$PWD/packaging/systemd/rs-server.sysusers" 2>&1) || { echo "$out"; exit 1; }
echo "$out" | sed 's/^/  /'
if echo "$out" | grep -qiE "failed|invalid|ignoring"; then exit 1; fi

echo "== LICENSE"
grep -q "Apache License" LICENSE && grep -q "Version 2.0, January 2004" LICENSE &&
  grep -q "END OF TERMS AND CONDITIONS" LICENSE || { echo "LICENSE is not the Apache-2.0 text"; exit 1; }
grep -q '"license": "Apache-2.0"' package.json
echo "packaging checks passed"
