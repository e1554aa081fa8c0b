#!/usr/bin/env bash
# Stops the test cluster that test/cluster/up.sh started: exactly the processes whose PIDs it
# recorded in .cache/cluster/pids/, in reverse start order, each waited for with a deadline.
# Jobs still in the cluster are cancelled first, so no job's processes are left behind.
set -uo pipefail
cd "$(dirname "$0")/../.."
C=$PWD/.cache/cluster
PUB=/opt/muse-test/cluster-$(printf '%s' "$C" | sha1sum | cut -c1-10)
export SLURM_CONF=$PUB/slurm.conf
SERVICES=(sshd2fa sshd slurmd slurmctld slurmdbd mariadbd munged) # reverse of up.sh's start order

say() { printf 'down.sh: %s\n' "$*" >&2; }
exe_of() { readlink -f "/usr/sbin/${1%2fa}"; } # slurmctld -> slurmctld-wlm (alternatives); sshd2fa -> sshd
pid_of() { # service -> its recorded PID, if that PID still runs the service's program
  local f="$C/pids/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [[ $pid =~ ^[0-9]+$ ]] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(exe_of "$1")" ] && echo "$pid"
}
wait_gone() { # pid, seconds
  local deadline=$((SECONDS + $2))
  while [ -e "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

[ -d "$C/pids" ] || { say "nothing to stop (no $C/pids)"; exit 0; }
if [ -z "${MUSE_CLUSTER_LOCKED:-}" ]; then # up.sh, which calls us, holds the lock already
  exec 9>"$C/.lock"
  flock -w 600 9 || { say "another up.sh/down.sh holds $C/.lock"; exit 1; }
fi

if pid_of slurmctld >/dev/null && [ -f "$SLURM_CONF" ]; then
  jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    say "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null || true
    deadline=$((SECONDS + 20))
    while [ -n "$(squeue -h -o %A 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  fi
fi

mkdir -p "$C/log"; echo "$(date -u +%FT%TZ) down.sh pid $$, called by: $(ps -o args= -p $PPID 2>/dev/null)" >>"$C/log/updown.log" # who cycles the cluster
rc=0
for s in "${SERVICES[@]}"; do
  if pid=$(pid_of "$s"); then
    kill -TERM "$pid" 2>/dev/null
    if ! wait_gone "$pid" 20; then
      say "$s ($pid) did not stop in 20s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null
      wait_gone "$pid" 5 || { say "$s ($pid) still running"; rc=1; continue; }
    fi
    say "stopped $s ($pid)"
  fi
  rm -f "$C/pids/$s.pid"
done
rm -f "$C/env.json" "/etc/pam.d/muse-2fa-${PUB##*/cluster-}" # the 2FA sshd's PAM stack (up.sh writes it)
exit $rc
