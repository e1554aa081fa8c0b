#!/usr/bin/env bash
# Starts Muse Runner's test cluster: a one-node Slurm cluster with accounting (munged, MariaDB,
# slurmdbd, slurmctld, slurmd) behind a real OpenSSH sshd on 127.0.0.1, a test user `museuser`
# with a key login, the singularity stand-in and the sw_example test image; and a second sshd
# (sshd2fa) that asks a one-time code (TOTP, pam_google_authenticator) after the key, counting
# every code it asks in .cache/cluster/log/2fa-codes.log.
#
#   bash test/cluster/up.sh      # then read .cache/cluster/env.json (test/cluster/clusterEnv.ts)
#   bash test/cluster/down.sh    # stops exactly what this started
#
# Idempotent: a stack that is still up is reused; a half-dead one is stopped and started again.
# Exit 77 (skip) where it cannot run: not root, or no apt-get (not Debian).
# Files: .cache/cluster/ (configs, keys, database, Slurm state, logs, recorded PIDs, env.json);
# what the test user must read lives under /opt/muse-test/ (the stand-in, the image, slurm.conf
# and munge's socket), since the checkout itself may be in a folder only root can enter.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

skip() { printf '\n\033[1;33m!!! test/cluster/up.sh: %s\n!!! The cluster tier needs root on Debian 12 (as in CI).\033[0m\n' "$*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "not root: cannot install or start Slurm, MariaDB and sshd here"
command -v apt-get >/dev/null || skip "no apt-get: this is not a Debian machine"

C=$ROOT/.cache/cluster
mkdir -p "$C"
# One up.sh or down.sh at a time (several test runs may start the cluster at once).
exec 9>"$C/.lock"
flock -w 600 9 || { echo "up.sh: another up.sh/down.sh holds $C/.lock" >&2; exit 1; }
export MUSE_CLUSTER_LOCKED=1 # down.sh, called from here, must not wait for our own lock

mkdir -p "$C/log"; echo "$(date -u +%FT%TZ) up.sh pid $$, called by: $(ps -o args= -p $PPID 2>/dev/null)" >>"$C/log/updown.log" # who cycles the cluster
bash "$ROOT/test/cluster/install.sh"

PUB_BASE=/opt/muse-test
PUB=$PUB_BASE/cluster-$(printf '%s' "$C" | sha1sum | cut -c1-10) # one per checkout
TEST_USER=museuser
CLUSTER=musetest
HOST=$(hostname -s)
SLURM_CONF=$PUB/slurm.conf
MUNGE_DIR=$PUB/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket
export SLURM_CONF
SERVICES=(munged mariadbd slurmdbd slurmctld slurmd sshd sshd2fa) # start order; down.sh stops in reverse
# The 2FA sshd runs as a link named after its own PAM service (sshd takes its PAM service name
# from argv[0]), so its PAM stack is its own and the main sshd keeps UsePAM no.
PAM_SERVICE=muse-2fa-${PUB##*/cluster-}
TFA=$PUB/2fa

say() { printf 'up.sh: %s\n' "$*" >&2; }
die() { printf 'up.sh: ERROR: %s\n' "$*" >&2; exit 1; }

# --- which of our processes are alive ---------------------------------------------------------
exe_of() { readlink -f "/usr/sbin/${1%2fa}"; } # slurmctld -> slurmctld-wlm (alternatives); sshd2fa -> sshd
alive() { # service: its recorded PID runs its program (not a reused PID)
  local f="$C/pids/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [[ $pid =~ ^[0-9]+$ ]] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(exe_of "$1")" ]
}
wait_for() { # description, seconds, command...: poll the condition until the deadline
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      say "timed out after ${secs}s waiting for: $what; the check says:"
      "$@" >&2 || true
      for l in "$C"/log/*; do [ -s "$l" ] && { echo "--- $l" >&2; tail -15 "$l" >&2; }; done
      say "stopping what was started"; bash "$ROOT/test/cluster/down.sh" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

# --- the checks that say the stack works ------------------------------------------------------
munge_ok() { munge -n -S "$MUNGE_SOCKET" | unmunge -S "$MUNGE_SOCKET"; }
mariadb_ok() { mariadb-admin --no-defaults -S "$C/mysql-run/mysqld.sock" -u root ping; }
slurmdbd_ok() { sacctmgr -n -P list cluster format=cluster; }
cluster_registered() { sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; }
slurmctld_ok() { scontrol ping | grep -q 'is UP'; }
node_up() { sinfo -h -N -n "$HOST" -o %T | grep -Eq '^(idle|mixed|allocated|completing)$'; }
ssh_ok() {
  ssh -i "$C/ssh/id_ed25519" -o BatchMode=yes -o UserKnownHostsFile="$C/etc/known_hosts" -o StrictHostKeyChecking=yes \
    -o ConnectTimeout=5 -p "$(cat "$C/etc/sshd-port")" "$TEST_USER@127.0.0.1" 'test -n "$SLURM_CONF" && command -v singularity'
}
tfa_ok() { # the key is accepted, then a code is asked (BatchMode declines it: no code is counted)
  local out
  out=$(ssh -i "$C/ssh/id_ed25519" -o BatchMode=yes -o UserKnownHostsFile="$C/etc/known_hosts" -o StrictHostKeyChecking=yes \
    -o ConnectTimeout=5 -p "$(cat "$C/etc/sshd2fa-port")" "$TEST_USER@127.0.0.1" true 2>&1)
  [[ $out == *'denied (keyboard-interactive)'* ]] || { echo "$out"; return 1; }
}

# --- the parts every run refreshes (cheap, idempotent) ----------------------------------------
refresh_shared_files() {
  mkdir -p "$PUB_BASE/bin" "$PUB_BASE/images"
  chmod 755 "$PUB_BASE" "$PUB_BASE/bin" "$PUB_BASE/images"
  install -m 755 "$ROOT/test/fixtures/singularity/singularity" "$PUB_BASE/bin/.singularity.tmp"
  mv -f "$PUB_BASE/bin/.singularity.tmp" "$PUB_BASE/bin/singularity"
  bash "$ROOT/test/fixtures/singularity/build-image.sh" "$PUB_BASE/images/sw_example"
}
write_env_json() {
  local tmp="$C/env.json.tmp"
  cat >"$tmp" <<EOF
{
  "host": "127.0.0.1",
  "port": $(cat "$C/etc/sshd-port"),
  "user": "$TEST_USER",
  "identityFile": "$C/ssh/id_ed25519",
  "knownHostsFile": "$C/etc/known_hosts",
  "slurmConf": "$SLURM_CONF",
  "remoteRoot": "$(getent passwd "$TEST_USER" | cut -d: -f6)/muse-runs",
  "singularityCommand": "$PUB_BASE/bin/singularity",
  "images": { "sw_example": "$PUB_BASE/images/sw_example" },
  "sshdPid": $(cat "$C/pids/sshd.pid"),
  "twoFactor": {
    "port": $(cat "$C/etc/sshd2fa-port"),
    "secret": "$(cat "$C/etc/2fa-secret")",
    "codesLog": "$C/log/2fa-codes.log",
    "sshdPid": $(cat "$C/pids/sshd2fa.pid")
  },
  "clusterName": "$CLUSTER",
  "partition": "debug",
  "nodeName": "$HOST"
}
EOF
  mv -f "$tmp" "$C/env.json"
}

# --- reuse a running stack --------------------------------------------------------------------
all_alive=1; any_alive=0
for s in "${SERVICES[@]}"; do if alive "$s"; then any_alive=1; else all_alive=0; fi; done
if [ $all_alive = 1 ] && [ -f "$C/env.json" ] && munge_ok >/dev/null 2>&1 && slurmctld_ok >/dev/null 2>&1 \
   && node_up >/dev/null 2>&1 && ssh_ok >/dev/null 2>&1 && tfa_ok >/dev/null 2>&1; then
  refresh_shared_files
  write_env_json
  say "the cluster is already up (reused); env: $C/env.json"
  exit 0
fi
if [ $any_alive = 1 ] || ls "$C"/pids/*.pid >/dev/null 2>&1; then
  say "a previous stack is partly up: stopping it first"
  bash "$ROOT/test/cluster/down.sh"
fi

started=$SECONDS
# --- name resolution (a minimal root may lack these) ------------------------------------------
getent hosts localhost >/dev/null || { say "adding '127.0.0.1 localhost' to /etc/hosts"; echo '127.0.0.1 localhost' >>/etc/hosts; }
getent hosts "$HOST" >/dev/null || { say "adding '127.0.0.1 $HOST' to /etc/hosts"; echo "127.0.0.1 $HOST" >>/etc/hosts; }

# --- folders, keys, the test user -------------------------------------------------------------
mkdir -p "$C"/{etc,ssh,pids,log,run,state/slurmctld,state/slurmd,mysql,mysql-run} "$PUB"
chmod 700 "$C/etc" "$C/ssh"
chmod 755 "$PUB"
install -d -m 755 -o munge -g munge "$MUNGE_DIR"
if [ ! -s "$MUNGE_DIR/munge.key" ]; then
  dd if=/dev/urandom of="$MUNGE_DIR/munge.key.tmp" bs=1024 count=1 status=none
  mv "$MUNGE_DIR/munge.key.tmp" "$MUNGE_DIR/munge.key"
fi
chown munge:munge "$MUNGE_DIR/munge.key"; chmod 400 "$MUNGE_DIR/munge.key"
[ -s "$C/ssh/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C muse-test-host -f "$C/ssh/ssh_host_ed25519_key"
[ -s "$C/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C muse-test-client -f "$C/ssh/id_ed25519"
# The TOTP secret of the 2FA sshd (base32, as authenticator apps take it); tests compute codes from it.
[ -s "$C/etc/2fa-secret" ] || { head -c 20 /dev/urandom | base32 | tr -d '=\n' >"$C/etc/2fa-secret"; }
[ -s "$C/etc/db-password" ] || { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$C/etc/db-password"; }
chmod 600 "$C/etc/db-password"

id "$TEST_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TEST_USER"
usermod -p '*' "$TEST_USER" # a locked account (useradd's '!') refuses even key logins
HOME_DIR=$(getent passwd "$TEST_USER" | cut -d: -f6)
install -d -m 700 -o "$TEST_USER" -g "$TEST_USER" "$HOME_DIR/.ssh"
# Add our key, keep the others (another checkout's cluster may be using this user too).
AK=$HOME_DIR/.ssh/authorized_keys
grep -qxF "$(cat "$C/ssh/id_ed25519.pub")" "$AK" 2>/dev/null || cat "$C/ssh/id_ed25519.pub" >>"$AK"
chown "$TEST_USER:$TEST_USER" "$AK"; chmod 600 "$AK"
install -d -m 755 -o "$TEST_USER" -g "$TEST_USER" "$HOME_DIR/muse-runs"
refresh_shared_files

# --- configs ------------------------------------------------------------------------------------
# Ports: the previous run's when they are still free (so a restart keeps the address tests
# and developers know), else fresh ones from the kernel.
read -r P_MARIADB P_SLURMDBD P_SLURMCTLD P_SLURMD P_SSHD P_SSHD2FA < <(/usr/bin/python3 - "$C/etc/ports" <<'EOF'
import socket, sys
def free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do (TIME_WAIT is fine)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
try:
    old = [int(p) for p in open(sys.argv[1]).read().split()]
except (OSError, ValueError):
    old = []
if len(old) == 6 and len(set(old)) == 6 and all(free(p) for p in old):
    print(" ".join(map(str, old)))
else:
    socks = []
    for _ in range(6):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
echo "$P_MARIADB $P_SLURMDBD $P_SLURMCTLD $P_SLURMD $P_SSHD $P_SSHD2FA" >"$C/etc/ports"
echo "$P_SSHD" >"$C/etc/sshd-port"
echo "$P_SSHD2FA" >"$C/etc/sshd2fa-port"
CPUS=$(nproc)
MEM=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
MEM=$((MEM * 9 / 10))
render() { # template, destination
  sed -e "s|@CLUSTER@|$CLUSTER|g" -e "s|@HOST@|$HOST|g" -e "s|@MUNGE_SOCKET@|$MUNGE_SOCKET|g" \
      -e "s|@SLURMCTLD_PORT@|$P_SLURMCTLD|g" -e "s|@SLURMD_PORT@|$P_SLURMD|g" -e "s|@SLURMDBD_PORT@|$P_SLURMDBD|g" \
      -e "s|@MARIADB_PORT@|$P_MARIADB|g" -e "s|@SSHD_PORT@|$P_SSHD|g" -e "s|@DB_PASSWORD@|$(cat "$C/etc/db-password")|g" \
      -e "s|@STATE@|$C/state|g" -e "s|@RUN@|$C/run|g" -e "s|@LOG@|$C/log|g" -e "s|@SSH@|$C/ssh|g" \
      -e "s|@CPUS@|$CPUS|g" -e "s|@MEMORY@|$MEM|g" -e "s|@USER@|$TEST_USER|g" -e "s|@PUB@|$PUB_BASE|g" \
      -e "s|@SLURM_CONF@|$SLURM_CONF|g" "$ROOT/test/cluster/conf/$1" >"$2.tmp"
  mv -f "$2.tmp" "$2"
}
render slurm.conf.in "$SLURM_CONF"; chmod 644 "$SLURM_CONF"
render slurmdbd.conf.in "$C/etc/slurmdbd.conf"; chmod 600 "$C/etc/slurmdbd.conf"; chown root:root "$C/etc/slurmdbd.conf"
render sshd_config.in "$C/etc/sshd_config"
{ echo "[127.0.0.1]:$P_SSHD $(cut -d' ' -f1,2 "$C/ssh/ssh_host_ed25519_key.pub")"
  echo "[127.0.0.1]:$P_SSHD2FA $(cut -d' ' -f1,2 "$C/ssh/ssh_host_ed25519_key.pub")"; } >"$C/etc/known_hosts"

# The 2FA sshd: the same config on its own port, with a code asked after the key. The secret file
# belongs to the test user (pam_google_authenticator insists); reuse of a code within its 30 s
# step is allowed (no DISALLOW_REUSE), so tests need not wait for the next step.
sed -e "s|^Port .*|Port $P_SSHD2FA|" -e "s|^PidFile .*|PidFile $C/run/sshd2fa.pid|" \
    -e 's|^KbdInteractiveAuthentication .*|KbdInteractiveAuthentication yes|' -e 's|^UsePAM .*|UsePAM yes|' \
    "$C/etc/sshd_config" >"$C/etc/sshd2fa_config"
echo 'AuthenticationMethods publickey,keyboard-interactive:pam' >>"$C/etc/sshd2fa_config"
install -d -m 700 -o "$TEST_USER" -g "$TEST_USER" "$TFA"
printf '%s\n" TOTP_AUTH\n' "$(cat "$C/etc/2fa-secret")" >"$TFA/secret.tmp"
chown "$TEST_USER:$TEST_USER" "$TFA/secret.tmp"; chmod 400 "$TFA/secret.tmp"; mv -f "$TFA/secret.tmp" "$TFA/secret"
install -d -m 755 "$PUB/sbin"
ln -sfn /usr/sbin/sshd "$PUB/sbin/$PAM_SERVICE"
printf '#!/bin/sh\n# pam_exec: one line per code the 2FA sshd asks\necho "$(date -u +%%FT%%T.%%NZ) $PAM_USER" >>%s\n' "$C/log/2fa-codes.log" >"$PUB/sbin/count-2fa-code"
chmod 755 "$PUB/sbin/count-2fa-code"
cat >"/etc/pam.d/$PAM_SERVICE.tmp" <<EOF
# Muse Runner test cluster ($ROOT): the 2FA sshd's PAM stack, written by test/cluster/up.sh.
auth optional pam_exec.so quiet $PUB/sbin/count-2fa-code
auth required pam_google_authenticator.so secret=$TFA/secret user=$TEST_USER
account required pam_permit.so
session required pam_permit.so
EOF
mv -f "/etc/pam.d/$PAM_SERVICE.tmp" "/etc/pam.d/$PAM_SERVICE"

# MariaDB runs as root: the checkout (and so its datadir) may be in a folder only root enters.
# --- start, in order, each waited for on a real condition -------------------------------------
start() { # service, command...: detached (own session), PID recorded
  local name=$1; shift
  setsid "$@" </dev/null >>"$C/log/$name.out" 2>&1 9>&- & # 9>&-: daemons must not hold the lock
  echo $! >"$C/pids/$name.pid"
}

start munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F --force \
  --key-file="$MUNGE_DIR/munge.key" --socket="$MUNGE_SOCKET" --pid-file="$MUNGE_DIR/munged.pid" \
  --seed-file="$MUNGE_DIR/munged.seed" --log-file="$MUNGE_DIR/munged.log" --num-threads=2
wait_for "munged answering on $MUNGE_SOCKET" 20 munge_ok

if [ ! -d "$C/mysql/mysql" ]; then
  say "creating the MariaDB datadir"
  mariadb-install-db --no-defaults --datadir="$C/mysql" --user=root --auth-root-authentication-method=socket \
    --skip-test-db >"$C/log/mariadb-install-db.log" 2>&1 || { tail -20 "$C/log/mariadb-install-db.log" >&2; die "mariadb-install-db failed"; }
fi
start mariadbd /usr/sbin/mariadbd --no-defaults --user=root --datadir="$C/mysql" --socket="$C/mysql-run/mysqld.sock" \
  --pid-file="$C/mysql-run/mysqld.pid" --bind-address=127.0.0.1 --port="$P_MARIADB" --skip-name-resolve \
  --log-error="$C/log/mariadbd.log" --innodb-buffer-pool-size=64M --innodb-log-file-size=48M --skip-log-bin
wait_for "MariaDB answering on port $P_MARIADB" 60 mariadb_ok
DBPW=$(cat "$C/etc/db-password")
mariadb --no-defaults -S "$C/mysql-run/mysqld.sock" -u root <<EOF
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DBPW';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DBPW';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
EOF

# slurmdbd reads slurmdbd.conf beside $SLURM_CONF: a copy of slurm.conf in the private folder
# keeps the database password out of /opt.
cp "$SLURM_CONF" "$C/etc/slurm.conf"
start slurmdbd env SLURM_CONF="$C/etc/slurm.conf" /usr/sbin/slurmdbd -D
wait_for "slurmdbd answering sacctmgr" 60 slurmdbd_ok

start slurmctld /usr/sbin/slurmctld -D -f "$SLURM_CONF"
wait_for "slurmctld answering scontrol ping" 60 slurmctld_ok
wait_for "cluster $CLUSTER registered in slurmdbd" 60 cluster_registered

start slurmd /usr/sbin/slurmd -D -f "$SLURM_CONF"
wait_for "node $HOST up (idle) in sinfo" 60 node_up

mkdir -p /run/sshd && chmod 755 /run/sshd # sshd's privilege separation folder
/usr/sbin/sshd -t -f "$C/etc/sshd_config" || die "sshd rejected $C/etc/sshd_config"
start sshd /usr/sbin/sshd -D -f "$C/etc/sshd_config" -E "$C/log/sshd.log"
wait_for "sshd letting $TEST_USER in on port $P_SSHD" 30 ssh_ok
/usr/sbin/sshd -t -f "$C/etc/sshd2fa_config" || die "sshd rejected $C/etc/sshd2fa_config"
start sshd2fa "$PUB/sbin/$PAM_SERVICE" -D -f "$C/etc/sshd2fa_config" -E "$C/log/sshd2fa.log"
wait_for "the 2FA sshd asking a code after the key on port $P_SSHD2FA" 30 tfa_ok

for s in "${SERVICES[@]}"; do alive "$s" || die "$s is not running after start (see $C/log/)"; done
write_env_json
say "cluster up in $((SECONDS - started))s: ssh -i $C/ssh/id_ed25519 -o UserKnownHostsFile=$C/etc/known_hosts -p $P_SSHD $TEST_USER@127.0.0.1"
say "env: $C/env.json"
