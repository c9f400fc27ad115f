#!/usr/bin/env bash
# Installs the Debian 12 (OpenStack Zed) packages openstack-lite runs, without letting any of
# them start a service or configure a database or catalog entry: start.sh does all of that
# under its own state directory. Idempotent; safe when some of the packages are already there.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: must run as root (apt-get)" >&2
  exit 1
fi

# Only what the services need. nova-compute (libvirt, qemu: about 1 GB) and cinder-volume
# (lvm2, tgt) are left out: start.sh runs their Python entry points from nova-common and
# cinder-common with the fake hypervisor and the fake volume driver.
PACKAGES=(
  mariadb-server python3-pymysql
  rabbitmq-server
  uwsgi-core uwsgi-plugin-python3
  keystone python3-keystone
  glance-api glance-common
  placement-api python3-placement
  nova-common nova-api nova-conductor nova-scheduler
  neutron-server neutron-common python3-neutron
  cinder-api cinder-scheduler cinder-common python3-cinder
  python3-openstackclient python3-openstacksdk
  curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | cut -c2)" != "i" ]; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install.sh: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi
echo "install.sh: installing ${#missing[@]} packages: ${missing[*]}"

export DEBIAN_FRONTEND=noninteractive

# Services must not start during the install: a policy-rc.d that refuses every action,
# removed afterwards unless one was already there (containers often ship their own).
POLICY=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# openstack-lite install.sh: no service starts during apt-get install\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  own_policy=1
fi
cleanup() { if [ "$own_policy" = 1 ]; then rm -f "$POLICY"; fi; }
trap cleanup EXIT

# Debian's OpenStack packages ask (through debconf) whether to set up a database, RabbitMQ,
# keystone_authtoken and catalog endpoints themselves: answer no to all of it.
{
  for pkg in keystone glance cinder neutron nova novaapi placement; do
    echo "$pkg $pkg/configure_db boolean false"
    echo "$pkg $pkg/dbconfig-install boolean false"
    echo "$pkg $pkg/dbconfig-upgrade boolean false"
    echo "$pkg $pkg/configure_rabbit boolean false"
    echo "$pkg $pkg/configure_ksat boolean false"
    echo "$pkg $pkg/configure_api-endpoint boolean false"
  done
  echo "keystone keystone/create-admin-tenant boolean false"
  echo "keystone keystone/register-endpoint boolean false"
  echo "nova-common nova/configure_neutron boolean false"
  echo "nova-common nova/configure_placement boolean false"
  echo "neutron-common neutron/configure_nova boolean false"
  echo "cinder-common cinder/volume_group string"
} | debconf-set-selections

apt_get() {
  # Another apt (an unattended upgrade, a parallel job) may hold the lock: wait for it.
  # --force-unsafe-io: no fsync per file; a CI machine that crashes mid-install is rebuilt anyway.
  apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-unsafe-io -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold "$@"
}

if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ] ||
   ! apt-cache show keystone >/dev/null 2>&1; then
  apt_get update -q
fi
apt_get install -y -q --no-install-recommends "${missing[@]}"

echo "install.sh: done"
