# Sourced by the CI stages: apt_install [apt-get install options] PACKAGE... installs Debian
# packages, trying again when the mirror drops a connection, and exits the stage if it cannot.
apt_install() {
  echo "== installing (Debian packages): $*"
  export DEBIAN_FRONTEND=noninteractive
  local attempt
  for attempt in 1 2 3; do
    if apt-get update -qq && apt-get install -y -qq "$@"; then return 0; fi
    [ "$attempt" -lt 3 ] || { echo "${*} could not be installed"; exit 1; }
    echo "apt-get failed (attempt $attempt); retrying"
    sleep 15
  done
}
