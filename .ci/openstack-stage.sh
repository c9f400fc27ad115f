#!/usr/bin/env bash
# CI stage: real OpenStack Zed from Debian's packages (scripts/openstack-lite), then the
# contract suite against it. Prints the OpenStack services' logs when something fails, stops
# the stack at the end either way, and reports how long each part took.
#
#   OSL_STATE_DIR  state directory (default: a fresh one under /var/tmp, removed afterwards)
#   OSL_KEEP=1     leave the stack running and the state directory in place
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OSL="$ROOT/scripts/openstack-lite"

fresh_state=0
if [ -z "${OSL_STATE_DIR:-}" ]; then
  OSL_STATE_DIR=$(mktemp -d /var/tmp/openstack-lite-ci.XXXXXX)
  fresh_state=1
fi
export OSL_STATE_DIR

t_start=$(date +%s)
t_install=0 t_up=0 t_suite=0
phase=install
status=0

print_logs() {
  echo "== openstack-lite: last lines of each service log ($OSL_STATE_DIR/log)"
  for f in "$OSL_STATE_DIR"/log/*.log; do
    [ -f "$f" ] || continue
    echo "---- $(basename "$f")"
    tail -n 60 "$f"
  done
}

finish() {
  status=${status:-$?}
  if [ "$status" -ne 0 ]; then
    echo "== openstack stage FAILED during $phase"
    print_logs
  fi
  if [ "${OSL_KEEP:-0}" != 1 ]; then
    "$OSL/stop.sh" || true
    # Kept after a failure, for a look at the logs and configuration.
    if [ "$fresh_state" = 1 ] && [ "$status" -eq 0 ]; then rm -rf "$OSL_STATE_DIR"; fi
  fi
  echo "== openstack stage: install ${t_install}s, start ${t_up}s, contract suite ${t_suite}s," \
    "total $(($(date +%s) - t_start))s ($([ "$status" -eq 0 ] && echo passed || echo failed))"
  exit "$status"
}
trap 'status=$?; finish' EXIT

echo "== openstack-lite: install"
t=$(date +%s)
if [ "$(id -u)" -eq 0 ]; then "$OSL/install.sh"; else sudo -n "$OSL/install.sh"; fi
t_install=$(($(date +%s) - t))

phase=start
echo "== openstack-lite: start ($OSL_STATE_DIR)"
t=$(date +%s)
"$OSL/start.sh"
t_up=$(($(date +%s) - t))

phase="contract suite and rs-server's end-to-end flow"
echo "== contract suite and rs-server's end-to-end flow against openstack-lite"
export RS_CONTRACT_CLOUD="$OSL_STATE_DIR/clouds.yaml#openstack-lite"
export RS_CONTRACT_KEYSTONE="totp,lockout=5,unique_passwords=3"
t=$(date +%s)
set +e
npm test -- test/contract/*.test.ts test/e2e-cloud/flow.test.ts test/e2e-cloud/admin-scope.test.ts test/e2e-cloud/lifecycle.test.ts
status=$?
set -e
t_suite=$(($(date +%s) - t))
exit "$status"
