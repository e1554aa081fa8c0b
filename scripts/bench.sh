#!/usr/bin/env bash
# `npm run bench`: speed and memory targets, as ratios against a baseline measured in the same
# run (these machines are noisy). Each bench prints its own lines; nothing here asserts timings.
#   bash scripts/bench.sh            every bench that can run here
#   bash scripts/bench.sh ws ssh     only these
set -uo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund || exit 1
node esbuild.js >/dev/null || exit 1
benches=("$@")
[ ${#benches[@]} -eq 0 ] && benches=(ws ssh follow sweep vscode)
rc=0
for b in "${benches[@]}"; do
  printf '\n== bench: %s\n' "$b"
  case $b in
    ws)
      # bench-ws reads the CLI's peak RSS with /usr/bin/time (Debian package "time").
      if [ ! -x /usr/bin/time ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get install -y -qq --no-install-recommends time >/dev/null; fi
      npx tsx scripts/bench-ws.ts --no-build || rc=1 ;;
    ssh)
      if bash test/cluster/up.sh; then npx tsx scripts/bench-ssh.ts || rc=1; bash test/cluster/down.sh || true
      else echo "ssh bench skipped: the test cluster cannot be started here (needs root on Debian 12)"; fi ;;
    follow)
      if bash test/cluster/up.sh; then npx tsx scripts/bench-follow.ts || rc=1; bash test/cluster/down.sh || true
      else echo "follow bench skipped: the test cluster cannot be started here (needs root on Debian 12)"; fi ;;
    sweep)
      if bash test/cluster/up.sh; then npx tsx scripts/bench-sweep.ts || rc=1; bash test/cluster/down.sh || true
      else echo "sweep bench skipped: the test cluster cannot be started here (needs root on Debian 12)"; fi ;;
    vscode)
      if [ -f scripts/bench-vscode.sh ]; then bash scripts/bench-vscode.sh || rc=1; else echo "(no vscode bench yet)"; fi ;;
    *) echo "unknown bench: $b"; rc=2 ;;
  esac
done
exit $rc
