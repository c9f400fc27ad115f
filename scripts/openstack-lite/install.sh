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

# One install.sh at a time: the policy-rc.d swap below must not interleave with another's.
exec 9>/run/lock/openstack-lite-install.lock 2>/dev/null || exec 9>/tmp/openstack-lite-install.lock
flock -w 1800 9 || { echo "install.sh: another install.sh is still running" >&2; exit 1; }

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

# Services must not start during the install: a policy-rc.d that refuses every action, put
# in place for the install and replaced by what was there before (nothing, or the machine's
# own). One that was there is not trusted: with a policy that allows starts (exit 0),
# cinder-scheduler and glance-api started from their init scripts here, as their own users,
# glance-api on 0.0.0.0:9292, the port start.sh needs.
POLICY=/usr/sbin/policy-rc.d
SAVED=/usr/sbin/policy-rc.d.openstack-lite-saved
if [ -e "$SAVED" ] || [ -L "$SAVED" ]; then
  # Left by an install.sh that was killed: what it saved is the machine's own.
  mv -f "$SAVED" "$POLICY"
fi
had_policy=0
if [ -e "$POLICY" ] || [ -L "$POLICY" ]; then
  mv -f "$POLICY" "$SAVED"
  had_policy=1
fi
cleanup() {
  if [ "$had_policy" = 1 ]; then mv -f "$SAVED" "$POLICY"; else rm -f "$POLICY"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
printf '#!/bin/sh\n# openstack-lite install.sh: no service starts during apt-get install\nexit 101\n' >"$POLICY"
chmod 755 "$POLICY"

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
# Package lists can be there but stale (a missing package's version gone from the mirror):
# fetch them once more and try again.
if ! apt_get install -y -q --no-install-recommends "${missing[@]}"; then
  echo "install.sh: apt-get install failed; updating the package lists and trying again"
  apt_get update -q
  apt_get install -y -q --no-install-recommends "${missing[@]}"
fi

echo "install.sh: done"
