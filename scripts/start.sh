#!/usr/bin/env bash
# `npm start`: from a fresh clone, a real VS Code with Muse Runner on the example workspace.
#   1. scripts/demo.sh: installs the npm dependencies if missing, builds, and runs a real job on
#      the local runner through the muse CLI (its run shows in the Runs tree afterwards);
#   2. with a `code` (or `code-insiders`) binary on PATH: opens it on examples/ with the extension
#      loaded from this folder (--extensionDevelopmentPath), in a window of its own whose state is
#      in .cache/start/, and waits until that window is closed;
#      otherwise: code-server (installed into .cache/ by test/vscode/runner/setup.sh) on
#      127.0.0.1:8080 (or a free port), no password (it listens on the loopback interface only),
#      the extension installed from a freshly packaged VSIX into a private extensions folder,
#      and prints the address to open; Ctrl-C stops it.
# The local runner is the default profile (no setting needed). Runs, settings and code-server's
# state stay in .cache/start/ (MUSE_DATA_DIR / MUSE_CONFIG_DIR), never in the home folder.
#
# Knobs: MUSE_START_PORT=<port> (default 8080, or a free one when taken), MUSE_START_SERVER=1
# (code-server even when a `code` binary exists), MUSE_START_SKIP_DEMO=1 (no CLI job first).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. test/vscode/runner/lib.sh
STATE=$ROOT/.cache/start
WORKSPACE=$ROOT/examples
mkdir -p "$STATE"

say() { printf '\033[1m[start] %s\033[0m\n' "$*"; }

# The extension host inherits these: the CLI job below and the Runs tree share one run list.
export MUSE_DATA_DIR="${MUSE_DATA_DIR:-$STATE/data}"
export MUSE_CONFIG_DIR="${MUSE_CONFIG_DIR:-$STATE/config}"

# --- 1. dependencies, build, a real job through the CLI ---------------------------------------
if [ -n "${MUSE_START_SKIP_DEMO:-}" ]; then
  [ -d node_modules/commander ] || npm ci --no-audit --no-fund
  node esbuild.js
else
  bash scripts/demo.sh
fi

# --- 2a. a local VS Code -------------------------------------------------------------------
CODE_BIN=""
if [ -z "${MUSE_START_SERVER:-}" ]; then
  CODE_BIN=$(command -v code || command -v code-insiders || true)
fi
if [ -n "$CODE_BIN" ]; then
  say "opening $WORKSPACE in $CODE_BIN with the extension from $ROOT (close the window to finish)"
  # A user-data folder of its own: a new VS Code process, which inherits MUSE_DATA_DIR, and
  # none of the user's other windows or extensions in the way.
  exec "$CODE_BIN" --new-window --wait --user-data-dir "$STATE/vscode-user" --extensions-dir "$STATE/vscode-extensions" \
    --extensionDevelopmentPath="$ROOT" "$WORKSPACE"
fi

# --- 2b. code-server ---------------------------------------------------------------------------
say "no VS Code binary on PATH: using code-server (installed into .cache/ on first use)"
CODE_SERVER=$(bash test/vscode/runner/setup.sh | tail -n 1) || {
  rc=$?
  [ $rc -eq 77 ] && say "code-server cannot be installed here (needs root and apt). Install VS Code and run npm start again."
  exit $rc
}

port_free() { node -e "const s=require('net').createServer();s.once('error',()=>process.exit(1));s.listen($1,'127.0.0.1',()=>s.close())" 2>/dev/null; }
PORT=${MUSE_START_PORT:-8080}
if ! port_free "$PORT"; then
  PORT=$(free_port)
fi

say "packaging the extension (VSIX) and installing it into .cache/start/extensions"
mkdir -p "$STATE/user-data/User" "$STATE/extensions" "$STATE/xdg-data" "$STATE/xdg-config" "$STATE/xdg-cache" "$STATE/tmp"
csenv=(env XDG_DATA_HOME="$STATE/xdg-data" XDG_CONFIG_HOME="$STATE/xdg-config" XDG_CACHE_HOME="$STATE/xdg-cache" TMPDIR="$STATE/tmp" EXTENSIONS_GALLERY={})
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" > "$STATE/config.yaml"
npx vsce package --no-dependencies --no-rewrite-relative-links -o "$STATE/muse-runner.vsix" > "$STATE/vsce.log" 2>&1 || { tail -20 "$STATE/vsce.log"; exit 1; }
"${csenv[@]}" "$CODE_SERVER" --config "$STATE/config.yaml" --user-data-dir "$STATE/user-data" --extensions-dir "$STATE/extensions" \
  --install-extension "$STATE/muse-runner.vsix" --force >> "$STATE/vsce.log" 2>&1 || { tail -20 "$STATE/vsce.log"; exit 1; }

settings=$STATE/user-data/User/settings.json
if [ ! -f "$settings" ]; then # the user's changes made in the window are kept across starts
  # The local runner is the active profile; when demo.sh could run its container example, its
  # profile (the sw_example image through the singularity stand-in) is offered as well.
  image=$ROOT/.cache/images/sw_example standin=$ROOT/test/fixtures/singularity/singularity
  IMAGE=$image STANDIN=$standin WITH_CONTAINER=$([ -d "$image" ] && command -v bwrap >/dev/null && echo 1) node -e '
    const profiles = [{ name: "local", kind: "local" }];
    if (process.env.WITH_CONTAINER) profiles.push({ name: "demo-container", kind: "local",
      images: { sw_example: process.env.IMAGE }, singularityCommand: process.env.STANDIN, defaultSoftware: "sw_example" });
    console.log(JSON.stringify({
      "workbench.startupEditor": "none",
      "telemetry.telemetryLevel": "off",
      "extensions.autoCheckUpdates": false,
      "update.mode": "none",
      "git.openRepositoryInParentFolders": "never",
      "muse.profiles": profiles,
      "muse.activeProfile": "local",
    }, null, 2));' > "$settings"
fi

PID=""
stop() {
  [ -n "$PID" ] || return 0
  say "stopping code-server"
  stop_group "$PID" || true
  PID=""
}
trap stop EXIT
trap 'exit 130' INT TERM

URL="http://127.0.0.1:$PORT/?folder=$WORKSPACE"
# setsid: code-server's own process group (server, extension hosts, watchers), stopped by its PID.
"${csenv[@]}" setsid "$CODE_SERVER" --config "$STATE/config.yaml" --bind-addr "127.0.0.1:$PORT" --auth none \
  --user-data-dir "$STATE/user-data" --extensions-dir "$STATE/extensions" --disable-telemetry --disable-update-check \
  --disable-workspace-trust --disable-getting-started-override \
  > "$STATE/code-server.log" 2>&1 &
PID=$!
if ! wait_healthz "http://127.0.0.1:$PORT" "$PID"; then
  say "code-server did not start:"; tail -20 "$STATE/code-server.log"; exit 1
fi
echo
say "VS Code (code-server) with Muse Runner on the example workspace; open:"
echo
echo "    $URL"
echo
say "Open add.py and press the Run on Muse button (runs go to the local runner). Ctrl-C stops it."
say "(on another machine: ssh -L $PORT:127.0.0.1:$PORT this-host, then open the address there)"
wait "$PID"
