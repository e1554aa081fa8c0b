#!/usr/bin/env bash
# Installs the Debian packages of the test cluster (Slurm with accounting, munge, MariaDB,
# OpenSSH, the TOTP PAM module of the 2FA sshd, bubblewrap for the singularity stand-in): idempotent, quiet, fast when installed.
# Needs root and apt-get (up.sh checks both first).
set -euo pipefail
pkgs=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server openssh-server openssh-client libpam-google-authenticator bubblewrap zip unzip)

missing=()
for p in "${pkgs[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/muse-cluster-install.XXXXXX.log)
apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

lists_fresh() { # package lists exist and are less than a day old
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit 2>/dev/null)" ]
}
update() {
  echo "install.sh: apt-get update" >&2
  apt-get update -q -o DPkg::Lock::Timeout=600 >>"$log" 2>&1 || { tail -20 "$log" >&2; echo "install.sh: apt-get update failed (log: $log)" >&2; exit 1; }
}

echo "install.sh: installing ${missing[*]}" >&2
lists_fresh || update
if ! apt-get install "${apt_opts[@]}" "${missing[@]}" >>"$log" 2>&1; then
  # Stale lists point at package versions the mirror no longer has: refresh once and retry.
  update
  apt-get install "${apt_opts[@]}" "${missing[@]}" >>"$log" 2>&1 || {
    tail -30 "$log" >&2; echo "install.sh: apt-get install failed (log: $log)" >&2; exit 1; }
fi
rm -f "$log"
