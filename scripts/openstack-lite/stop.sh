#!/usr/bin/env bash
# Stops exactly the processes start.sh started: each one recorded in <state>/run/<name>.pid
# with its start time (so a reused PID is never taken for ours), ended with its whole process
# group (start.sh gave each its own session), in the reverse order of starting. The state
# directory stays: start.sh starts the same cloud again. Remove it for a clean slate.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[ -d "$STATE/run" ] || { log "nothing to stop in $STATE"; exit 0; }

stop_one() {
  local name=$1 pid
  if ! pid=$(live_pid "$name"); then
    rm -f "$STATE/run/$name.pid"
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  echo "$pid"
}

wait_gone() {
  local name=$1 pid=$2 secs=$3
  local deadline=$(($(date +%s) + secs))
  while live_pid "$name" >/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "$name (pid $pid) did not stop within ${secs}s: killing its process group"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  # Children left in the group (a uwsgi worker, an Erlang helper) go with it.
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$STATE/run/$name.pid"
  log "stopped $name (pid $pid)"
}

# The OpenStack services first, all at once; then RabbitMQ, epmd and MariaDB, one by one.
infra=(mariadb epmd rabbitmq)
declare -A pids=()
for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
  name=${SERVICES[i]}
  if [[ " ${infra[*]} " == *" $name "* ]]; then continue; fi
  pid=$(stop_one "$name")
  if [ -n "$pid" ]; then pids[$name]=$pid; fi
done
for name in "${!pids[@]}"; do wait_gone "$name" "${pids[$name]}" 30; done
for name in rabbitmq epmd mariadb; do
  pid=$(stop_one "$name")
  if [ -n "$pid" ]; then wait_gone "$name" "$pid" 60; fi
done
log "openstack-lite stopped ($STATE kept)"
