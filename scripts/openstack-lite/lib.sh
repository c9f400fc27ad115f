# Shared by start.sh and stop.sh: where the state lives and how a process we started is known.
# shellcheck shell=bash

OSL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${OSL_STATE_DIR:-/var/tmp/openstack-lite}
HOST=127.0.0.1
DB_PORT=${OSL_DB_PORT:-13306}
AMQP_PORT=${OSL_AMQP_PORT:-15673}
EPMD_PORT=${OSL_EPMD_PORT:-14369}
# The entry points use /usr/bin/python3; a python3 earlier on PATH may be another interpreter.
PY=/usr/bin/python3

# Start order; stop.sh goes backwards.
SERVICES=(mariadb epmd rabbitmq keystone placement glance nova-api nova-conductor nova-scheduler
  nova-compute neutron-server cinder-api cinder-scheduler cinder-volume)

log() { printf '[openstack-lite %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

# A PID file holds "<pid> <start time in clock ticks>": the start time tells our process from
# a later one that happens to reuse the PID.
starttime_of() { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null || true; }

# Prints the PID recorded for a service if that very process is still running.
live_pid() {
  local file="$STATE/run/$1.pid" pid start
  [ -f "$file" ] || return 1
  read -r pid start <"$file" || return 1
  [ -n "$pid" ] && [ -n "$start" ] || return 1
  [ "$(starttime_of "$pid")" = "$start" ] || return 1
  echo "$pid"
}

# Every process start.sh launches carries OSL_OWNER=<this state directory's id>:<service> in
# its environment, and so do its children: also those that leave the process group (Erlang's
# erl_child_setup and inet_gethost start sessions of their own) or outlive the process we
# started (beam.smp when its rabbitmq-server wrapper dies). The id is random, made with the
# state directory: no process of another stack or of anyone else carries it.
owner_id() {
  if [ ! -s "$STATE/run/owner" ]; then
    mkdir -p "$STATE/run"
    head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/run/owner"
  fi
  cat "$STATE/run/owner"
}

# Prints "<pid> <service>" for each running process carrying this state directory's tag.
tagged() {
  [ -s "$STATE/run/owner" ] || return 0
  local id
  id=$(cat "$STATE/run/owner")
  [[ "$id" =~ ^[0-9a-f]+$ ]] || return 0
  { grep -azH "^OSL_OWNER=$id:" /proc/[0-9]*/environ 2>/dev/null || true; } | tr '\0' '\n' |
    sed -n "s|^/proc/\([0-9]*\)/environ:OSL_OWNER=$id:\([a-z0-9-]*\)$|\1 \2|p"
}

# PIDs of the tagged processes of one service (all services with "*").
tagged_of() { tagged | awk -v n="$1" '$2 == n || n == "*" { print $1 }'; }

# Signals the process group a service's recorded process leads, right after that process
# ended (its children are left in the group), unless the PID already belongs to another
# process. While any member of the group lives, the kernel reuses neither its PID nor its ID.
signal_group() {
  local sig=$1 file="$STATE/run/$2.pid" pid start now
  [ -f "$file" ] || return 0
  read -r pid start <"$file" || return 0
  [ -n "$pid" ] || return 0
  now=$(starttime_of "$pid")
  if [ -n "$now" ] && [ "$now" != "$start" ]; then return 0; fi
  kill "-$sig" -- "-$pid" 2>/dev/null || true
}

# Ends every process carrying a service's tag ("*": any service of this state directory):
# what is left when the process we started has died (beam.smp without its wrapper) or has
# ended (helpers in sessions of their own). TERM, then KILL after <seconds>. A process
# without the tag is never touched.
end_tagged() {
  local name=$1 secs=$2 pids deadline
  pids=$(tagged_of "$name")
  [ -n "$pids" ] || return 0
  log "$name: ending what is left of it (pids $(echo $pids))"
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  deadline=$(($(date +%s) + secs))
  while pids=$(tagged_of "$name") && [ -n "$pids" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "$name: killing what is left of it (pids $(echo $pids))"
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
}

# start.sh and stop.sh take turns on a state directory. Close fd 9 in anything long-lived
# started while holding it, or that process would hold the lock.
lock_state() {
  mkdir -p "$STATE/run"
  exec 9>"$STATE/run/lock"
  flock -w "$1" 9 || die "another start.sh or stop.sh is working on $STATE (waited $1 s)"
}
