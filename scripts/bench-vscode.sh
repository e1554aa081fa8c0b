#!/usr/bin/env bash
# The vscode bench (`npm run bench`, entry `vscode`): the extension's speed inside a real
# extension host (code-server 4.100.3, headless Chromium; set up by test/vscode/runner/setup.sh).
#   - activation: load + activate() of the production bundle, against an empty extension
#     (test/fixtures/emptyExtension) activated in the same extension host
#   - the same for the checkout built as one bundle (`esbuild.js --one-bundle`: the core imported
#     statically, no dist/core.js), against the two bundles it ships (dist/core.js loaded on
#     first use): one extension host per build and round, rounds alternating which goes first
#   - require() of fresh copies of each build's bundles in that host
#   - a Runs tree of 5,000 runs (seeded store): getChildren of the root and of each profile
#     group, getTreeItem of every item
#   - the extension host's event-loop lag (p50/p99/max) during a 1 GB web API download through
#     the extension's own backend (first round of this checkout's build only)
#   - bundle sizes and the VSIX
# Prints figures; asserts no timing. Nothing is written outside .cache/bench-vscode/.
# Knobs: MUSE_BENCH_ROUNDS (default 5), MUSE_BENCH_RUNS (default 5000), MUSE_BENCH_KEEP=1,
#   MUSE_BENCH_COMPARE=0 (no one-bundle build: half the rounds).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. test/vscode/runner/lib.sh

CODE_SERVER=$(bash test/vscode/runner/setup.sh | tail -n 1); rc=$?
if [ $rc -eq 77 ]; then
  echo "vscode bench skipped: code-server and chromium cannot be installed here (needs root and apt, i.e. Debian 12)"
  exit 0
elif [ $rc -ne 0 ]; then
  echo "vscode bench: setup failed (exit $rc)"; exit 1
fi

B=$ROOT/.cache/bench-vscode/run-$$
remove_stale_runs "$ROOT/.cache/bench-vscode" # earlier runs whose script is gone
mkdir -p "$B"
PIDS=()
ok=
cleanup() {
  for pid in "${PIDS[@]}"; do stop_group "$pid"; done
  if [ -n "$ok" ] && [ -z "${MUSE_BENCH_KEEP:-}" ]; then rm -rf "$B"; else echo "vscode bench: logs kept in $B"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the extension as it ships: production bundles, packaged --------------------------------
# bench_copy EXT [ESBUILD_ARGS...]: a production build of this checkout as an extension in EXT,
# with the in-host half inside it, so its require("vscode") resolves to that extension's API.
bench_copy() {
  local ext=$1
  shift
  mkdir -p "$ext"
  node esbuild.js --production --outdir="$ext/dist" "$@" > /dev/null || return 1
  cp -r package.json .vscodeignore media "$ext/"
  for f in README.md CHANGELOG.md LICENSE; do [ -f "$f" ] && cp "$f" "$ext/"; done
  npx esbuild scripts/bench-vscode-host.ts --bundle --platform=node --target=node20 --format=cjs \
    --external:vscode --log-level=warning --outfile="$ext/bench/host.js" || return 1
}
# no_activation_events EXT: the bench copy activates only when the bench asks (nothing before the timing).
no_activation_events() {
  node -e '
    const fs = require("fs"), f = process.argv[1], p = JSON.parse(fs.readFileSync(f, "utf8"));
    p.activationEvents = [];
    fs.writeFileSync(f, JSON.stringify(p, null, 2));' "$1/package.json"
}
EXT=$B/ext
bench_copy "$EXT" || exit 1
VSIX=$B/muse-runner.vsix
(cd "$EXT" && npx --prefix "$ROOT" vsce package --no-dependencies --no-rewrite-relative-links -o "$VSIX" > "$B/vsce.log" 2>&1) || { echo "vscode bench: vsce package failed:"; tail -5 "$B/vsce.log"; VSIX=; }
no_activation_events "$EXT" || exit 1

# --- the build to compare with: the same checkout as one bundle ------------------------------
# (esbuild.js --one-bundle: the core imported statically into dist/extension.js, no dist/core.js)
CMP=
if [ "${MUSE_BENCH_COMPARE:-1}" != 0 ]; then
  CMP=$B/one-bundle
  bench_copy "$CMP" --one-bundle && no_activation_events "$CMP" || { echo "vscode bench: cannot build the one-bundle copy"; exit 1; }
fi
# The baseline, installed (a folder in the extensions dir, picked up when code-server starts):
# the workbench loads only one development extension.
mkdir -p "$B/exts"
cp -r test/fixtures/emptyExtension "$B/exts/muse-runner.muse-bench-empty-0.0.1"
# A second copy, activated first in each round: the host's first activation pays one-time costs.
cp -r test/fixtures/emptyExtension "$B/exts/muse-runner.muse-bench-warmup-0.0.1"
sed -i 's/"muse-bench-empty"/"muse-bench-warmup"/' "$B/exts/muse-runner.muse-bench-warmup-0.0.1/package.json"
cp -r test/vscode/workspace "$B/workspace"

# --- code-server -----------------------------------------------------------------------------
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
mkdir -p "$B/udd/User" "$B/exts" "$B/xdg-data" "$B/xdg-config" "$B/xdg-cache" "$B/tmp"
printf '{ "workbench.startupEditor": "none", "telemetry.telemetryLevel": "off", "extensions.autoUpdate": false, "extensions.autoCheckUpdates": false, "update.mode": "none" }\n' > "$B/udd/User/settings.json"
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" > "$B/config.yaml"
MUSE_DATA_DIR=$B/muse-data MUSE_CONFIG_DIR=$B/muse-config MUSE_BENCH_OUT=$B/results.jsonl MUSE_BENCH_IO=$EXT \
  MUSE_BENCH_RUNS=${MUSE_BENCH_RUNS:-5000} \
  XDG_DATA_HOME=$B/xdg-data XDG_CONFIG_HOME=$B/xdg-config XDG_CACHE_HOME=$B/xdg-cache TMPDIR=$B/tmp \
  EXTENSIONS_GALLERY={} setsid "$CODE_SERVER" --config "$B/config.yaml" --bind-addr "127.0.0.1:$PORT" --auth none \
  --user-data-dir "$B/udd" --extensions-dir "$B/exts" --disable-telemetry --disable-update-check \
  --disable-workspace-trust --disable-getting-started-override --ignore-last-opened \
  > "$B/code-server.log" 2>&1 &
PIDS+=($!)
if ! wait_healthz "$URL" "${PIDS[0]}"; then
  echo "vscode bench: code-server did not answer /healthz within 60 s"; tail -20 "$B/code-server.log"; exit 1
fi

# --- the rounds ------------------------------------------------------------------------------
npx tsx scripts/bench-vscode-drive.ts --server "$URL" --folder "$B/workspace" --extension "$EXT" \
  --profile "$B/chromium" --results "$B/results.jsonl" \
  --rounds "${MUSE_BENCH_ROUNDS:-5}" --log "$B/browser.log" ${VSIX:+--vsix "$VSIX"} \
  ${CMP:+--compare "$CMP" --compare-label "the same checkout as one bundle"} || exit 1
ok=1
