#!/usr/bin/env bash
# The README's test command (`npm test`): installs what the tests need, starts the services,
# runs every tier and ends with one "N passed, N failed" line.
#
#   bash scripts/test.sh                 all tiers: unit integration cluster vscode
#   bash scripts/test.sh unit cluster    only these tiers
#
# A tier whose services cannot be set up on this machine (not root, not Debian) is skipped with
# a loud message on a developer's machine; under CI=true nothing may skip.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

tiers=("$@")
cluster_up=
# The cluster stays up for the later tiers (the vscode tier runs an SSH profile on it) and is
# stopped at the end, by the PIDs its up.sh recorded.
trap '[ -n "$cluster_up" ] && bash test/cluster/down.sh >/dev/null 2>&1' EXIT
[ ${#tiers[@]} -eq 0 ] && tiers=(unit integration cluster vscode)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# --- set up: dependencies, build, compiled tests -------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund || exit 1
fi
say "type-check, bundle, compile tests"
npx tsc -p tsconfig.json --noEmit || exit 1
node esbuild.js || exit 1
rm -rf out && npx tsc -p tsconfig.test.json || exit 1
# Fixture files (JSON, text, scripts) beside their compiled tests, so __dirname-relative paths work.
cp -r test/fixtures/. out/test/fixtures/ || exit 1

export MUSE_TALLY="$ROOT/out/tally.txt" MUSE_FAILURES="$ROOT/out/failures.txt"
: > "$MUSE_TALLY"; : > "$MUSE_FAILURES"
failed_tiers=()
skipped_tiers=()

mocha_tier() { # the folder of the tier's compiled tests, under out/test/
  npx mocha --reporter "$ROOT/test/support/tallyReporter.js" --timeout 60000 "out/test/$1/**/*.test.js"
}

skip_or_fail() { # tier, rc of its setup
  local tier=$1 rc=$2
  if [ "$rc" -eq 77 ] && [ "${CI:-}" != "true" ]; then
    printf '\n\033[1;33m!!! SKIPPED tier "%s": its services cannot be set up on this machine.\n!!! Run it as root on Debian 12 (or in CI): bash scripts/test.sh %s\033[0m\n' "$tier" "$tier"
    skipped_tiers+=("$tier")
  else
    echo "tier $tier: setup failed (exit $rc)"
    failed_tiers+=("$tier")
  fi
}

for tier in "${tiers[@]}"; do
  say "tier: $tier"
  case $tier in
    unit)
      mocha_tier unit || failed_tiers+=(unit) ;;
    integration)
      if [ -f test/integration/setup.sh ]; then bash test/integration/setup.sh; rc=$?; else rc=0; fi
      if [ $rc -ne 0 ]; then skip_or_fail integration $rc; else
        mocha_tier integration || failed_tiers+=(integration); fi ;;
    cluster)
      if [ ! -f test/cluster/up.sh ]; then echo "(no cluster tier yet)"; continue; fi
      bash test/cluster/up.sh; rc=$?
      if [ $rc -ne 0 ]; then skip_or_fail cluster $rc; else
        cluster_up=1
        mocha_tier cluster || failed_tiers+=(cluster); fi ;;
    vscode)
      if [ ! -f test/vscode/run.sh ]; then echo "(no vscode tier yet)"; continue; fi
      bash test/vscode/run.sh; rc=$?
      if [ $rc -eq 77 ]; then skip_or_fail vscode 77; elif [ $rc -ne 0 ]; then failed_tiers+=(vscode); fi ;;
    *) echo "unknown tier: $tier"; exit 2 ;;
  esac
done

passed=0; failed=0; pending=0
while read -r p f s; do
  passed=$((passed + p)); failed=$((failed + f)); pending=$((pending + s))
done < "$MUSE_TALLY"

say "summary"
[ ${#skipped_tiers[@]} -gt 0 ] && echo "SKIPPED tiers: ${skipped_tiers[*]}"
[ ${#failed_tiers[@]} -gt 0 ] && echo "FAILED tiers: ${failed_tiers[*]}"
if [ "$pending" -gt 0 ]; then
  echo "tests: $passed passed, $failed failed, $pending skipped"
else
  echo "tests: $passed passed, $failed failed"
fi
if [ -s "$MUSE_FAILURES" ]; then # named again here: a kept tail of the log still says what failed
  echo "failed tests:"; head -40 "$MUSE_FAILURES" | sed 's/^/  ✘ /'
fi
if [ ${#failed_tiers[@]} -gt 0 ] || [ "$failed" -gt 0 ]; then exit 1; fi
if [ "$passed" -eq 0 ]; then echo "no test ran"; exit 1; fi
exit 0
