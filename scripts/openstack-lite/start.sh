#!/usr/bin/env bash
# Configures and starts OpenStack Zed from Debian's packages on 127.0.0.1, without systemd:
# a private MariaDB and RabbitMQ, Keystone, Placement, Glance, Nova (fake hypervisor),
# Neutron (ML2 without agents) and Cinder (fake volume driver). Everything it makes (configs,
# databases, images, logs, PID files, passwords) lives in one state directory:
# $OSL_STATE_DIR, default /var/tmp/openstack-lite. Then it seeds the cloud (bootstrap.py) and
# writes <state>/clouds.yaml.
#
# Re-runnable: services already running are left alone, stopped ones are started again on
# their existing data; one-time steps (database syncs, keystone bootstrap, seeding) are
# recorded under <state>/run and not repeated. Run install.sh first; stop.sh stops it.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "start.sh must run as root (it runs MariaDB and RabbitMQ as root)"
# Everything run below, so that a machine with only some of the packages fails here, not halfway.
for bin in mariadbd mariadb-install-db mariadb-admin mariadb epmd /usr/lib/rabbitmq/bin/rabbitmq-server \
  uwsgi-core curl flock \
  keystone-manage /usr/bin/keystone-wsgi-public placement-manage /usr/bin/placement-api \
  glance-manage glance-api nova-manage nova-api nova-conductor nova-scheduler \
  neutron-db-manage neutron-server cinder-manage cinder-scheduler; do
  command -v "$bin" >/dev/null || die "$bin is missing: run scripts/openstack-lite/install.sh"
done
[ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] || die "uwsgi's python3 plugin is missing: run scripts/openstack-lite/install.sh"
# nova-compute, cinder-api and cinder-volume run from the Python packages (see below).
for mod in nova/cmd/compute cinder/cmd/api cinder/cmd/volume cinder/tests/fake_driver pymysql/__init__; do
  [ -f "/usr/lib/python3/dist-packages/$mod.py" ] ||
    die "/usr/lib/python3/dist-packages/$mod.py is missing: run scripts/openstack-lite/install.sh"
done

# One start.sh or stop.sh at a time on a state directory: a second start waits, then finds
# everything running and changes nothing.
lock_state 1800
T0=$(date +%s)
SINCE=$(date -u -d "@$T0" +%Y-%m-%dT%H:%M:%S)
OWNER=$(owner_id)
mkdir -p "$STATE"/{etc,log,run,lock,python} "$STATE"/lock/{glance,nova,neutron,cinder} \
  "$STATE"/glance/{images,staging,tasks} "$STATE"/nova/instances "$STATE"/neutron "$STATE"/cinder \
  "$STATE"/keystone "$STATE"/rabbitmq
chmod 700 "$STATE"

# ---------------------------------------------------------------- secrets, configuration
# Generated once: re-setting a service user's password on a running stack revokes its tokens.
if [ ! -f "$STATE/secrets.env" ]; then
  (
    umask 077
    for name in DB_PASSWORD SERVICE_PASSWORD ADMIN_PASSWORD DEMO_PASSWORD RS_PASSWORD; do
      echo "$name=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    done >"$STATE/secrets.env"
  )
fi
# shellcheck disable=SC1091
source "$STATE/secrets.env"
export STATE HOST DB_PORT AMQP_PORT DB_PASSWORD SERVICE_PASSWORD
export PASSWORD_EXPIRES_DAYS=${OSL_PASSWORD_EXPIRES_DAYS:-90}

# Renders a template from etc/, replacing @NAME@ with $NAME (an unknown name is an error).
render() {
  mkdir -p "$(dirname "$2")"
  "$PY" - "$OSL_HERE/etc/$1" "$2" <<'PY'
import os, re, sys
text = open(sys.argv[1]).read()
def sub(m):
    if m.group(1) not in os.environ:
        sys.exit(f"{sys.argv[1]}: no value for @{m.group(1)}@")
    return os.environ[m.group(1)]
out = re.sub(r"@([A-Z_]+)@", sub, text)
tmp = sys.argv[2] + ".tmp"
with open(tmp, "w") as f:
    f.write(out)
os.chmod(tmp, 0o600)
os.replace(tmp, sys.argv[2])
PY
}
render keystone.conf "$STATE/etc/keystone/keystone.conf"
render placement.conf "$STATE/etc/placement/placement.conf"
render glance-api.conf "$STATE/etc/glance/glance-api.conf"
render nova.conf "$STATE/etc/nova/nova.conf"
render neutron.conf "$STATE/etc/neutron/neutron.conf"
render ml2_conf.ini "$STATE/etc/neutron/ml2_conf.ini"
render cinder.conf "$STATE/etc/cinder/cinder.conf"
render rabbitmq.conf "$STATE/etc/rabbitmq/rabbitmq.conf"
echo "[]." >"$STATE/etc/rabbitmq/enabled_plugins"
cp /etc/glance/glance-api-paste.ini "$STATE/etc/glance/"
cp /etc/nova/api-paste.ini "$STATE/etc/nova/"
cp /etc/neutron/api-paste.ini "$STATE/etc/neutron/"
cp /etc/cinder/api-paste.ini "$STATE/etc/cinder/"

# The Neutron mechanism driver, found by neutron-server through an entry point on PYTHONPATH.
rm -rf "$STATE/python/osl_mech" "$STATE"/python/*.dist-info
cp -r "$OSL_HERE/neutron/osl_mech" "$STATE/python/"
mkdir -p "$STATE/python/openstack_lite_mech-1.0.dist-info"
printf 'Metadata-Version: 2.1\nName: openstack-lite-mech\nVersion: 1.0\n' \
  >"$STATE/python/openstack_lite_mech-1.0.dist-info/METADATA"
printf '[neutron.ml2.mechanism_drivers]\nopenstack_lite = osl_mech:LiteMechanismDriver\n' \
  >"$STATE/python/openstack_lite_mech-1.0.dist-info/entry_points.txt"

# ---------------------------------------------------------------- process helpers
port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# launch <name> <port or -> <command...>: starts a service in its own session (so stop.sh can
# end it with all its children), tagged with OSL_OWNER (lib.sh), unless the one we started is
# still running. What is left of an earlier one that died (RabbitMQ's beam.smp outlives its
# wrapper script) is ended first: it would hold the port.
STARTED=()
launch() {
  local name=$1 port=$2
  shift 2
  if live_pid "$name" >/dev/null; then
    return 0
  fi
  end_tagged "$name" 30
  if [ "$port" != - ] && port_in_use "$port"; then
    die "$name: $HOST:$port is taken by a process openstack-lite did not start"
  fi
  echo "==== $(date -Is) start" >>"$STATE/log/$name.log"
  setsid env OSL_OWNER="$OWNER:$name" "$@" >>"$STATE/log/$name.log" 2>&1 </dev/null 9>&- &
  local pid=$!
  local start=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    start=$(starttime_of "$pid")
    [ -n "$start" ] && break
    sleep 0.1
  done
  echo "$pid $start" >"$STATE/run/$name.pid"
  STARTED+=("$name")
  log "started $name (pid $pid)"
}

fail_with_log() {
  log "ERROR: $1; last lines of $STATE/log/$2.log:" >&2
  tail -n 40 "$STATE/log/$2.log" >&2 || true
  exit 1
}

# wait_until <name> <seconds> <command...>: polls until the command succeeds; fails early,
# with the log, when the service's process has died.
wait_until() {
  local name=$1 secs=$2
  shift 2
  local deadline=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    live_pid "$name" >/dev/null || fail_with_log "$name exited" "$name"
    [ "$(date +%s)" -lt "$deadline" ] || fail_with_log "$name did not answer within ${secs}s" "$name"
    sleep 0.5
  done
}

# An API answers when it gives any HTTP status below 500 (version documents are 200 or 300).
http_ok() {
  local code
  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1") || return 1
  [ "$code" -ge 200 ] && [ "$code" -lt 500 ]
}

# once <marker> <log name> <command...>: a one-time step, recorded when it succeeded.
once() {
  local marker="$STATE/run/$1.done" name=$2
  shift 2
  [ -f "$marker" ] && return 0
  if ! "$@" >>"$STATE/log/$name.log" 2>&1; then
    fail_with_log "$1 failed" "$name"
  fi
  touch "$marker"
}

# ---------------------------------------------------------------- MariaDB
DB_SOCK="$STATE/run/mysqld.sock"
if [ ! -d "$STATE/mysql/mysql" ]; then
  log "initialising MariaDB in $STATE/mysql"
  rm -rf "$STATE/mysql"
  mariadb-install-db --no-defaults --datadir="$STATE/mysql" --user=root \
    --auth-root-authentication-method=socket --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1 ||
    fail_with_log "mariadb-install-db failed" mariadb-install
fi
launch mariadb "$DB_PORT" mariadbd --no-defaults --datadir="$STATE/mysql" --user=root \
  --bind-address="$HOST" --port="$DB_PORT" --socket="$DB_SOCK" --pid-file="$STATE/run/mysqld.pid-own" \
  --skip-name-resolve --max-connections=1000 --innodb-buffer-pool-size=256M \
  --innodb-flush-log-at-trx-commit=2 --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
wait_until mariadb 60 mariadb-admin --no-defaults --socket="$DB_SOCK" -uroot ping
mariadb --no-defaults --socket="$DB_SOCK" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS keystone;
CREATE DATABASE IF NOT EXISTS glance;
CREATE DATABASE IF NOT EXISTS placement;
CREATE DATABASE IF NOT EXISTS nova_api;
CREATE DATABASE IF NOT EXISTS nova;
CREATE DATABASE IF NOT EXISTS nova_cell0;
CREATE DATABASE IF NOT EXISTS neutron;
CREATE DATABASE IF NOT EXISTS cinder;
CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'127.0.0.1';
SQL
log "MariaDB ready on $HOST:$DB_PORT ($(($(date +%s) - T0)) s)"

# ---------------------------------------------------------------- RabbitMQ
# Our own epmd on its own port, bound to loopback; otherwise Erlang starts one on all interfaces.
export ERL_EPMD_PORT=$EPMD_PORT
launch epmd "$EPMD_PORT" epmd -address "$HOST" -port "$EPMD_PORT"
wait_until epmd 10 port_in_use "$EPMD_PORT"
launch rabbitmq "$AMQP_PORT" env HOME="$STATE/rabbitmq" RABBITMQ_NODENAME=rabbit@localhost \
  RABBITMQ_CONFIG_FILE="$STATE/etc/rabbitmq/rabbitmq.conf" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$STATE/etc/rabbitmq/enabled_plugins" \
  RABBITMQ_MNESIA_BASE="$STATE/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$STATE/log" RABBITMQ_LOGS=- \
  RABBITMQ_DIST_PORT=$((AMQP_PORT + 20000)) \
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
  /usr/lib/rabbitmq/bin/rabbitmq-server

# ---------------------------------------------------------------- one-time database syncs
# They only need MariaDB: run them side by side while RabbitMQ and Keystone come up.
KS_CONF="$STATE/etc/keystone/keystone.conf"
NOVA_CONF="$STATE/etc/nova/nova.conf"
sync_nova() {
  nova-manage --config-file "$NOVA_CONF" api_db sync
  nova-manage --config-file "$NOVA_CONF" cell_v2 map_cell0 \
    --database_connection "mysql+pymysql://openstack:$DB_PASSWORD@$HOST:$DB_PORT/nova_cell0"
  nova-manage --config-file "$NOVA_CONF" cell_v2 list_cells | grep -q ' cell1 ' ||
    nova-manage --config-file "$NOVA_CONF" cell_v2 create_cell --name cell1
  nova-manage --config-file "$NOVA_CONF" db sync
}
SYNCS=()
sync_bg() {
  local name=$1
  shift
  [ -f "$STATE/run/$name.done" ] && return 0
  once "$name" "$name" "$@" &
  SYNCS+=("$!:$name")
}
sync_bg placement-dbsync placement-manage --config-file "$STATE/etc/placement/placement.conf" db sync
sync_bg glance-dbsync glance-manage --config-file "$STATE/etc/glance/glance-api.conf" db_sync
sync_bg nova-dbsync sync_nova
sync_bg neutron-dbsync neutron-db-manage --config-file "$STATE/etc/neutron/neutron.conf" \
  --config-file "$STATE/etc/neutron/ml2_conf.ini" upgrade heads
sync_bg cinder-dbsync cinder-manage --config-file "$STATE/etc/cinder/cinder.conf" db sync

# ---------------------------------------------------------------- Keystone
ks_setup() {
  keystone-manage --config-file "$KS_CONF" db_sync
  [ -d "$STATE/keystone/fernet-keys" ] ||
    keystone-manage --config-file "$KS_CONF" fernet_setup --keystone-user root --keystone-group root
  [ -d "$STATE/keystone/credential-keys" ] ||
    keystone-manage --config-file "$KS_CONF" credential_setup --keystone-user root --keystone-group root
  # Creates the admin user, project and the admin/member/reader roles, and the identity
  # endpoints. Never run twice: it would reset the admin password and revoke its tokens.
  keystone-manage --config-file "$KS_CONF" bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
    --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-region-id RegionOne --bootstrap-public-url "http://$HOST:5000/v3/" \
    --bootstrap-internal-url "http://$HOST:5000/v3/" --bootstrap-admin-url "http://$HOST:5000/v3/"
}
once keystone-setup keystone-setup ks_setup
# uwsgi's --http-socket has no keep-alive: without "Connection: close" clients that reuse
# connections (Node's fetch) get ECONNRESET. (--http11-socket keeps them alive, but then an
# idle pooled connection pins one of the two workers: Keystone was measurably slower.)
uwsgi_app() {
  local name=$1 port=$2 wsgi=$3 envvar=$4
  launch "$name" "$port" uwsgi-core --plugin python3 --http-socket "$HOST:$port" --add-header "Connection: close" \
    --wsgi-file "$wsgi" --env "$envvar" --master --processes 2 --threads 1 --die-on-term \
    --need-app --lazy-apps --buffer-size 65535 --harakiri 120 --vacuum --no-orphans
}
uwsgi_app keystone 5000 /usr/bin/keystone-wsgi-public "OS_KEYSTONE_CONFIG_DIR=$STATE/etc/keystone"
wait_until keystone 90 http_ok "http://$HOST:5000/v3"
log "Keystone ready on http://$HOST:5000/v3 ($(($(date +%s) - T0)) s)"

# Service users and the catalog, before any service needs to authenticate.
export OSL_STATE_DIR="$STATE" OSL_HOST="$HOST" ADMIN_PASSWORD SERVICE_PASSWORD DEMO_PASSWORD RS_PASSWORD
once bootstrap-identity bootstrap "$PY" "$OSL_HERE/bootstrap.py" identity

wait_until rabbitmq 90 port_in_use "$AMQP_PORT"
log "RabbitMQ ready on $HOST:$AMQP_PORT ($(($(date +%s) - T0)) s)"
for s in "${SYNCS[@]}"; do
  wait "${s%%:*}" || fail_with_log "${s#*:} failed" "${s#*:}"
done
log "databases synced ($(($(date +%s) - T0)) s)"

# ---------------------------------------------------------------- the services
uwsgi_app placement 8778 /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$STATE/etc/placement"
launch glance 9292 glance-api --config-file "$STATE/etc/glance/glance-api.conf"
launch neutron-server 9696 env PYTHONPATH="$STATE/python" neutron-server \
  --config-file "$STATE/etc/neutron/neutron.conf" --config-file "$STATE/etc/neutron/ml2_conf.ini"
launch nova-api 8774 nova-api --config-file "$NOVA_CONF"
launch nova-conductor - nova-conductor --config-file "$NOVA_CONF"
launch nova-scheduler - nova-scheduler --config-file "$NOVA_CONF"
# nova-compute's package pulls libvirt and qemu: run its entry point from nova-common.
launch nova-compute - "$PY" -c 'import sys; from nova.cmd.compute import main; sys.exit(main())' \
  --config-file "$NOVA_CONF"
CINDER_CONF="$STATE/etc/cinder/cinder.conf"
launch cinder-api 8776 "$PY" -c 'import sys; from cinder.cmd.api import main; sys.exit(main())' \
  --config-file "$CINDER_CONF"
launch cinder-scheduler - cinder-scheduler --config-file "$CINDER_CONF"
launch cinder-volume - "$PY" -c 'import sys; from cinder.cmd.volume import main; sys.exit(main())' \
  --config-file "$CINDER_CONF"

wait_until placement 90 http_ok "http://$HOST:8778/"
wait_until glance 90 http_ok "http://$HOST:9292/"
wait_until neutron-server 120 http_ok "http://$HOST:9696/"
wait_until nova-api 120 http_ok "http://$HOST:8774/"
wait_until cinder-api 120 http_ok "http://$HOST:8776/"
for s in nova-conductor nova-scheduler nova-compute cinder-scheduler cinder-volume; do
  live_pid "$s" >/dev/null || fail_with_log "$s exited" "$s"
done
log "all APIs answer ($(($(date +%s) - T0)) s)"

# Flavors, image, networks, router, demo domain; waits for the compute host and the volume
# service; writes clouds.yaml.
OSL_STARTED="${STARTED[*]}" OSL_SINCE="$SINCE" "$PY" "$OSL_HERE/bootstrap.py" resources >>"$STATE/log/bootstrap.log" 2>&1 ||
  fail_with_log "seeding the cloud failed" bootstrap
log "ready in $(($(date +%s) - T0)) s"
cat "$STATE/settings.txt"
