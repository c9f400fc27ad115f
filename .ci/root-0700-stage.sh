#!/usr/bin/env bash
# CI stage: the README's two commands as root, from a clone inside a directory only root may
# enter (root's home is mode 0700 on most systems), where the "postgres" system user that runs
# the embedded PostgreSQL can reach neither the binaries in node_modules nor ./.data.
# `npm ci`, `npm start` until /health answers, SIGTERM (a clean exit 0), then `npm test` on two
# quick files (the whole suite runs in its own stage). Every step is bounded in time.
set -euo pipefail
echo "== the README's commands as root, from a clone in a 0700 directory"
cd "$(dirname "$0")/.."
repo=$(pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "not root: nothing to check here"
  exit 0
fi

home=$(mktemp -d /tmp/rs-root-0700.XXXXXX)
chmod 700 "$home"
server=""
cleanup() {
  # npm start runs as the leader of a session of its own: whatever is left of it goes at once
  # (its PostgreSQL's watchdog then stops PostgreSQL).
  if [ -n "$server" ]; then kill -KILL -- "-$server" 2>/dev/null || true; sleep 3; fi
  # Where the clone's database went (its .data/pg links there), and the clone itself.
  if [ -L "$home/rs-server/.data/pg" ]; then rm -rf "$(readlink "$home/rs-server/.data/pg")"; fi
  rm -rf "$home"
}
trap cleanup EXIT

echo "== clone into $home ($(stat -c %a "$home"), $(id -un))"
git clone -q "$repo" "$home/rs-server"
cd "$home/rs-server"

echo "== npm ci"
for attempt in 1 2 3; do
  if timeout 600 npm ci --no-audit --no-fund --prefer-offline --fetch-retries=5; then break; fi
  [ "$attempt" -lt 3 ] || exit 1
  echo "npm ci failed (attempt $attempt); retrying"
  sleep 15
done

port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
# /health's body when it answers 200 (node, not curl: node is what the machine surely has).
health() { node -e 'fetch(process.argv[1]).then(async (r) => { if (r.status !== 200) process.exit(1); console.log(await r.text()); }, () => process.exit(1))' "http://127.0.0.1:$admin/health"; }
admin=$(port)
broker=$(port)

echo "== npm start (admin API on $admin)"
RS_SERVER_ADMIN_PORT=$admin RS_SERVER_BROKER_PORT=$broker setsid npm start >start.log 2>&1 &
server=$!
up=""
for _ in $(seq 1 180); do
  if health >/dev/null 2>&1; then up=yes; break; fi
  kill -0 "$server" 2>/dev/null || break
  sleep 1
done
if [ -z "$up" ]; then
  echo "npm start did not come up within 3 minutes:"
  cat start.log
  exit 1
fi
echo "up: $(health)"

echo "== SIGTERM"
kill -TERM "$server"
code=0
for _ in $(seq 1 60); do kill -0 "$server" 2>/dev/null || break; sleep 1; done
if kill -0 "$server" 2>/dev/null; then
  echo "npm start did not stop within a minute of SIGTERM:"
  cat start.log
  exit 1
fi
wait "$server" || code=$?
if [ "$code" -ne 0 ] || grep -qE 'Unhandled|^\s+at ' start.log; then
  echo "npm start exited $code or crashed on SIGTERM:"
  cat start.log
  exit 1
fi
echo "stopped cleanly (exit 0)"

echo "== npm test on two quick files"
timeout 600 npm test -- test/unit/config.test.ts test/store/connections.test.ts
