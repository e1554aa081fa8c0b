#!/usr/bin/env bash
# `npm run demo`: from a fresh clone, installs the npm dependencies if missing, builds, and runs
# a real job on the local runner through the muse CLI, then prints its result.
# The demo keeps its run list and config in .cache/demo (set MUSE_DATA_DIR / MUSE_CONFIG_DIR to
# use others). When the sw_example test image and the singularity stand-in are there
# (bash test/integration/setup.sh), it also runs the documentation's example A in that container.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ ! -d node_modules ] || [ ! -d node_modules/commander ]; then
  echo "== installing npm dependencies"
  npm ci --no-audit --no-fund
fi
echo "== building"
node esbuild.js

export MUSE_DATA_DIR="${MUSE_DATA_DIR:-$ROOT/.cache/demo/data}"
export MUSE_CONFIG_DIR="${MUSE_CONFIG_DIR:-$ROOT/.cache/demo/config}"
muse() { node "$ROOT/dist/cli.js" "$@"; }

echo "== muse submit demo --cmd 'python3 add.py 4 5' --file examples/add.py --wait   (local runner)"
result=$(muse --profile local submit demo --cmd 'python3 add.py 4 5' --file examples/add.py --label demo --wait | tail -n 1)
echo "result: $result"
[ "$result" = "9.0" ] || { echo "demo: expected 9.0, got '$result'" >&2; exit 1; }

image="$ROOT/.cache/images/sw_example"
standin="$ROOT/test/fixtures/singularity/singularity"
if [ -d "$image" ] && command -v bwrap >/dev/null 2>&1 && bwrap --ro-bind / / --dev /dev --proc /proc true 2>/dev/null; then
  muse profiles add demo-container --kind local --image "sw_example=$image" --singularity-command "$standin" --force >/dev/null 2>&1
  echo "== muse submit sw_example --cmd 'python /add.py 4 5' --wait   (in the sw_example container)"
  result=$(muse --profile demo-container submit sw_example --cmd 'python /add.py 4 5' --wait | tail -n 1)
  echo "result: $result"
  [ "$result" = "9.0" ] || { echo "demo: expected 9.0 from the container, got '$result'" >&2; exit 1; }
else
  echo "(no sw_example image or no bubblewrap: skipped the container run; bash test/integration/setup.sh makes them)"
fi

echo "== muse runs"
muse runs
echo "demo OK (runs kept in $MUSE_DATA_DIR)"
