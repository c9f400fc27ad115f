#!/usr/bin/env bash
# Proves the simulator speaks OpenStack well enough for the standard `openstack` client:
# starts `rs-server simulator` alone, then lists and creates servers, networks, subnets,
# volumes and floating IPs with python3-openstackclient through the clouds.yaml it writes.
# Needs /usr/bin/openstack (Debian's python3-openstackclient; installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v openstack >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-openstackclient >/dev/null
fi
dir=$(mktemp -d)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
node --import tsx src/cli/index.ts simulator --port "$port" --data-dir "$dir" --build-delay-ms 300 >"$dir/sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 60); do [ -f "$dir/clouds.yaml" ] && break; sleep 0.5; done
export OS_CLIENT_CONFIG_FILE="$dir/clouds.yaml"
os() { openstack --os-cloud rs-admin "$@"; }
step() { printf '== %s\n' "$*"; }

step "catalog and lists"
os catalog list -f value -c Type | sort | tr '\n' ' '; echo
os flavor list -f value -c Name | grep -q m1.small
image=$(os image list -f value -c Name | head -1)
os server list -f value >/dev/null
step "network and subnet"
os network create cli-net -f value -c id >/dev/null
os subnet create --network cli-net --subnet-range 192.168.77.0/24 cli-subnet -f value -c cidr | grep -q 192.168.77.0/24
step "server create --wait"
os server create --flavor m1.small --image "$image" --network private --wait cli-server -f value -c status | grep -q ACTIVE
step "volume create and attach"
os volume create --size 1 cli-volume -f value -c id >/dev/null
for _ in $(seq 1 30); do [ "$(os volume show cli-volume -f value -c status)" = available ] && break; sleep 0.3; done
os server add volume cli-server cli-volume >/dev/null
for _ in $(seq 1 30); do [ "$(os volume show cli-volume -f value -c status)" = in-use ] && break; sleep 0.3; done
[ "$(os volume show cli-volume -f value -c status)" = in-use ]
step "floating IP"
fip=$(os floating ip create public -f value -c floating_ip_address)
os server add floating ip cli-server "$fip"
os server show cli-server -f value -c addresses | grep -q "$fip"
step "delete"
os server delete --wait cli-server
os server list -f value -c Name | grep -vq cli-server || true
echo "openstack client against the simulator: ok"
