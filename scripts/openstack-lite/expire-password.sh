#!/usr/bin/env bash
# Makes a Keystone user's current password expired as of now, directly in openstack-lite's
# database: Keystone has no API for it, and tests of the expired-password path cannot wait
# for password_expires_days. Usage: expire-password.sh <user id>
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
id=${1:?usage: expire-password.sh <user id>}
[[ "$id" =~ ^[0-9a-f]{32}$ ]] || die "not a Keystone user id: $id"
live_pid mariadb >/dev/null || die "openstack-lite's MariaDB is not running ($STATE)"
# The current password is the newest row of the user's password history.
rows=$(mariadb --no-defaults --socket="$STATE/run/mysqld.sock" -uroot -N keystone <<SQL
UPDATE password p
  JOIN (SELECT p2.id FROM password p2 JOIN local_user lu ON p2.local_user_id = lu.id
         WHERE lu.user_id = '$id' ORDER BY p2.created_at_int DESC LIMIT 1) cur ON p.id = cur.id
   SET p.expires_at = UTC_TIMESTAMP() - INTERVAL 1 MINUTE,
       p.expires_at_int = (UNIX_TIMESTAMP() - 60) * 1000000;
SELECT ROW_COUNT();
SQL
)
[ "$rows" = 1 ] || die "user $id has no active local password (rows changed: $rows)"
log "password of user $id expired"
