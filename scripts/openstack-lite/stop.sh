#!/usr/bin/env bash
# Stops exactly the processes start.sh started: each one recorded in <state>/run/<name>.pid
# with its start time (so a reused PID is never taken for ours), ended with its whole process
# group (start.sh gave each its own session), in the reverse order of starting. Then whatever
# carries the state directory's OSL_OWNER tag is left (lib.sh): children that started
# sessions of their own, or outlived a process of ours that died. Nothing else is touched.
# Safe to run again, and on a stack that is partly down. The state directory stays: start.sh
# starts the same cloud again. Remove it for a clean slate.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[ -d "$STATE/run" ] || { log "nothing to stop in $STATE"; exit 0; }
lock_state 900

stop_one() {
  local name=$1 pid
  if ! pid=$(live_pid "$name"); then
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
      signal_group KILL "$name"
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  # Children left in the group (a uwsgi worker) go with it.
  signal_group KILL "$name"
  log "stopped $name (pid $pid)"
}

# Whatever of a service is left once its own process is gone; then its PID file.
finish_one() {
  end_tagged "$1" "$2"
  rm -f "$STATE/run/$1.pid"
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
for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
  name=${SERVICES[i]}
  if [[ " ${infra[*]} " == *" $name "* ]]; then continue; fi
  finish_one "$name" 15
done
for name in rabbitmq epmd mariadb; do
  pid=$(stop_one "$name")
  if [ -n "$pid" ]; then wait_gone "$name" "$pid" 60; fi
  finish_one "$name" 30
done
# Anything else with the tag (a service no longer in SERVICES).
end_tagged "*" 15
log "openstack-lite stopped ($STATE kept)"
