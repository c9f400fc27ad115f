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
