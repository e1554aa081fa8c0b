#!/usr/bin/env bash
# The `vscode` test tier: our extension inside a real VS Code.
#   1. setup (cached under .cache/): chromium + code-server 4.100.3   (test/vscode/runner/setup.sh)
#   2. code-server on 127.0.0.1:<free port>, one per phase (3, 3c, 4: no settings, secrets or runs
#      leak between them), all its state in .cache/vscode-run/run-<pid>/
#   3. in-host tests: mocha inside the real extension host on test/vscode/**/*.test.ts,
#      driven through headless Chromium (test/vscode/runner/drive.ts); with VSCODE_EXECUTABLE
#      set, through that VS Code binary and @vscode/test-electron instead (test/vscode/electron.ts)
#  3c. the in-host tests named "in an untrusted folder", with workspace trust on and the folder
#      untrusted (Restricted Mode), its .vscode/settings.json naming a profile
#   4. UI tests: test/ui/**/*.test.ts (mocha in Node, Playwright against the workbench, the
#      way a user clicks and types; screenshots in test-results/screenshots/)
#   5. the VSIX (`vsce package`) installs into code-server
# Appends "<passed> <failed> <pending>" lines to $MUSE_TALLY when set; exit 1 if anything failed,
# 77 (loudly) when the services cannot be set up here (not root / no apt).
#
# Knobs: MUSE_VSCODE_GREP=<pattern> (in-host tests), MUSE_UI_GREP=<pattern> (UI tests),
# MUSE_VSCODE_KEEP=1 (keep the run folder), MUSE_VSCODE_SKIP_INHOST=1, MUSE_VSCODE_SKIP_UI=1,
# MUSE_VSCODE_SKIP_VSIX=1, VSCODE_EXECUTABLE=/path/to/code.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. test/vscode/runner/lib.sh
T0=$(date +%s)

say() { printf '\033[1m[vscode] %s\033[0m\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - T0 )) s"; }
tally() { # passed failed pending: into the tier's tally and our own summary
  [ -n "${MUSE_TALLY:-}" ] && echo "$1 $2 $3" >> "$MUSE_TALLY"
  PASSED=$((PASSED + $1)); FAILED=$((FAILED + $2)); PENDING=$((PENDING + $3))
}
PASSED=0; FAILED=0; PENDING=0

RUN=$ROOT/.cache/vscode-run/run-$$
remove_stale_runs "$ROOT/.cache/vscode-run"
rm -rf "$RUN"; mkdir -p "$RUN"
PIDS=() # process groups we started (code-server), stopped by PID at exit
cleanup() {
  for pid in "${PIDS[@]}"; do stop_group "$pid"; done
  # The Muse agent the windows started (detached, in this run's folder): stopped through its socket.
  [ -S "$RUN/agent/agent.sock" ] && MUSE_AGENT_DIR=$RUN/agent node dist/cli.js agent stop >/dev/null 2>&1
  if [ "$FAILED" -eq 0 ] && [ -z "${MUSE_VSCODE_KEEP:-}" ]; then rm -rf "$RUN"; else say "logs kept in $RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. setup --------------------------------------------------------------------------------
CODE_SERVER=$(bash test/vscode/runner/setup.sh | tail -n 1); rc=$? # pipefail: setup's status
if [ $rc -eq 77 ]; then
  printf '\n\033[1;33m!!! vscode tier: code-server and chromium cannot be installed on this machine\n!!! (needs root and apt, i.e. Debian 12). Set VSCODE_EXECUTABLE=/path/to/code for the in-host\n!!! tests in your own VS Code, or run the tier in CI.\033[0m\n' >&2
  [ -n "${VSCODE_EXECUTABLE:-}" ] || exit 77
  CODE_SERVER=""
elif [ $rc -ne 0 ]; then
  say "setup failed (exit $rc)"; exit 1
fi

# Build what is stale (scripts/test.sh has just built everything; a developer may not have).
newer() { [ ! -e "$1" ] || [ -n "$(find "${@:2}" -name '*.ts' -newer "$1" -print -quit 2>/dev/null)" ]; }
if newer dist/extension.js src || [ package.json -nt dist/extension.js ]; then
  say "bundling the extension"; node esbuild.js >/dev/null || exit 1
fi
if newer out/test/vscode/runner/index.js src test/vscode test/ui; then
  say "compiling tests"
  npx tsc -p tsconfig.test.json || say "WARNING: tsc reported errors (tests run on what it emitted)"
fi
[ -f out/test/vscode/runner/index.js ] || { say "out/test/vscode/runner/index.js missing"; exit 1; }

# Each phase gets its own copy of the example workspace: no state (open editors, .muse/ results)
# leaks from one into the next or into the repository.
fresh_workspace() { rm -rf "$RUN/$1"; cp -r test/vscode/workspace "$RUN/$1"; echo "$RUN/$1"; }

# What the extension and the tests may write goes into the run folder, never the home folder.
export MUSE_DATA_DIR=$RUN/muse-data MUSE_CONFIG_DIR=$RUN/muse-config MUSE_VSCODE_RUN_DIR=$RUN
# The per-user agent of the windows (SSH profiles) lives in the run folder too, not the user's.
export MUSE_AGENT_DIR=$RUN/agent
export MUSE_VSCODE_RESULT=$RUN/inhost-result.txt
mkdir -p "$MUSE_DATA_DIR" "$MUSE_CONFIG_DIR"

# failure LINE: a failed test named for scripts/test.sh's closing summary (when it set the file).
failure() { [ -n "${MUSE_FAILURES:-}" ] && echo "$1" >> "$MUSE_FAILURES"; return 0; }

inhost_tally() { # read the in-host runner's counts (then its failed tests); no file: it never reported
  if [ -s "$MUSE_VSCODE_RESULT" ]; then
    read -r p f s < "$MUSE_VSCODE_RESULT"; tally "$p" "$f" "$s"
    tail -n +2 "$MUSE_VSCODE_RESULT" | while IFS= read -r line; do failure "$line"; done
  else say "the in-host runner reported no counts: counting one failure"; tally 0 1 0
    failure "in-host ($1): the runner reported no counts (see $RUN/browser-$1.log)"; fi
}

# The tests "in an untrusted folder" run in a phase of their own (3c); the others in 3a/3b.
UNTRUSTED_GREP='in an untrusted folder'

# --- 3a. in-host tests through a local VS Code (developers) ----------------------------------
if [ -n "${VSCODE_EXECUTABLE:-}" ]; then
  say "in-host tests in $VSCODE_EXECUTABLE"
  rm -f "$MUSE_VSCODE_RESULT"
  MUSE_VSCODE_GREP=${MUSE_VSCODE_GREP:-"^(?!.*$UNTRUSTED_GREP)"} MUSE_VSCODE_WORKSPACE=$(fresh_workspace ws-inhost) node out/test/vscode/electron.js
  inhost_tally electron
  if [ -z "$CODE_SERVER" ]; then # in-host failures count; only the UI part is skipped
    say "vscode tier: $PASSED passed, $FAILED failed; UI tests SKIPPED: no code-server here"
    [ "$FAILED" -eq 0 ] && exit 77 || exit 1
  fi
fi

# --- 2. code-server, one per phase ----------------------------------------------------------
if [ -n "${VSCODE_EXECUTABLE:-}" ] && [ -n "${MUSE_VSCODE_SKIP_UI:-}" ] && [ -n "${MUSE_VSCODE_SKIP_VSIX:-}" ]; then
  say "vscode tier: $PASSED passed, $FAILED failed, $PENDING pending ($(elapsed))"
  [ "$FAILED" -eq 0 ]; exit
fi
mkdir -p "$RUN/xdg-data" "$RUN/xdg-config" "$RUN/xdg-cache" "$RUN/tmp"
printf 'auth: none\ncert: false\n' > "$RUN/config.yaml"
CS_PID=""
# start_code_server PHASE: code-server on a free loopback port (URL), with its own user settings,
# secrets and Muse run list under $RUN/cs-PHASE, so that no state (signed-in profiles, runs,
# global settings) leaks from one phase into the next. It inherits the MUSE_* variables set now.
start_code_server() {
  local dir=$RUN/cs-$1 port
  port=$(free_port)
  URL=http://127.0.0.1:$port
  mkdir -p "$dir/udd/User" "$dir/exts"
  cat > "$dir/udd/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false,
  "update.mode": "none",
  "git.openRepositoryInParentFolders": "never"
}
JSON
  # The untrusted phase: workspace trust on, the folder left untrusted (no startup question).
  local trust_flag=--disable-workspace-trust
  if [ -n "${WITH_TRUST:-}" ]; then
    trust_flag=""
    node -e 'const f=process.argv[1],s=JSON.parse(require("fs").readFileSync(f,"utf8"));s["security.workspace.trust.startupPrompt"]="never";require("fs").writeFileSync(f,JSON.stringify(s,null,2))' "$dir/udd/User/settings.json"
  fi
  say "starting code-server ($1) on $URL"
  # setsid: code-server forks its server, extension hosts, pty host and watchers; its own process
  # group lets the cleanup stop all of them through the one PID we started.
  XDG_DATA_HOME=$RUN/xdg-data XDG_CONFIG_HOME=$RUN/xdg-config XDG_CACHE_HOME=$RUN/xdg-cache TMPDIR=$RUN/tmp \
    EXTENSIONS_GALLERY={} setsid "$CODE_SERVER" --config "$RUN/config.yaml" --bind-addr "127.0.0.1:$port" --auth none \
    --user-data-dir "$dir/udd" --extensions-dir "$dir/exts" --disable-telemetry --disable-update-check \
    $trust_flag --disable-getting-started-override --ignore-last-opened \
    > "$dir/code-server.log" 2>&1 &
  CS_PID=$!
  PIDS+=("$CS_PID")
  if ! wait_healthz "$URL" "$CS_PID"; then
    say "code-server did not answer /healthz within 60 s:"; tail -20 "$dir/code-server.log"; FAILED=1; exit 1
  fi
  say "code-server ready ($(elapsed))"
}
stop_code_server() { # the one start_code_server started last, and every process of its group
  [ -n "$CS_PID" ] || return 0
  stop_group "$CS_PID"
  local keep=() pid
  for pid in "${PIDS[@]}"; do [ "$pid" = "$CS_PID" ] || keep+=("$pid"); done
  PIDS=("${keep[@]}"); CS_PID=""
}

# --- 3b. in-host tests through code-server ---------------------------------------------------
if [ -z "${VSCODE_EXECUTABLE:-}" ] && [ -z "${MUSE_VSCODE_SKIP_INHOST:-}" ]; then
  # run_inhost PHASE FOLDER: the in-host mocha run in the code-server started for PHASE, tallied.
  run_inhost() {
    local phase=$1 folder=$2 rc
    rm -f "$MUSE_VSCODE_RESULT"
    node out/test/vscode/runner/drive.js --server "$URL" --folder "$folder" \
      --extension "$ROOT" --tests "$ROOT/out/test/vscode/runner/index.js" \
      --profile "$RUN/chromium-$phase" --timeout "${MUSE_VSCODE_TIMEOUT:-240}" --log "$RUN/browser-$phase.log"
    rc=$?
    inhost_tally "$phase"
    [ $rc -ne 0 ] && [ "$FAILED" -eq 0 ] && { say "$phase in-host run exited $rc"; tally 0 1 0; failure "in-host ($phase): exited $rc"; }
    stop_code_server
  }
  MUSE_VSCODE_GREP=${MUSE_VSCODE_GREP:-"^(?!.*$UNTRUSTED_GREP)"} start_code_server inhost
  say "in-host tests (mocha in the extension host)"
  run_inhost inhost "$(fresh_workspace ws-inhost)"
  say "in-host tests done ($(elapsed))"

  # --- 3c. in-host tests in an untrusted folder (Restricted Mode) -----------------------------
  # The folder's own .vscode/settings.json names a profile and makes it active: in Restricted
  # Mode neither may count, and running must ask for trust.
  folder=$(fresh_workspace ws-untrusted)
  mkdir -p "$folder/.vscode"
  cat > "$folder/.vscode/settings.json" <<'JSON'
{
  "muse.profiles": [{ "name": "from-the-repository", "kind": "local", "singularityCommand": "/tmp/not-what-you-think" }],
  "muse.activeProfile": "from-the-repository",
  "muse.resultsFolder": "/tmp/elsewhere"
}
JSON
  WITH_TRUST=1 MUSE_VSCODE_GREP="$UNTRUSTED_GREP" start_code_server untrusted
  say "in-host tests in an untrusted folder"
  run_inhost untrusted "$folder"
fi

# --- 4. UI tests -----------------------------------------------------------------------------
if [ -z "${MUSE_VSCODE_SKIP_UI:-}" ] && [ -n "$(find out/test/ui -name '*.test.js' 2>/dev/null)" ]; then
  # The UI tests' runs go to a run list of their own: the Runs tree shows only what they did.
  MUSE_DATA_DIR=$RUN/muse-data-ui MUSE_CONFIG_DIR=$RUN/muse-config-ui start_code_server ui
  say "UI tests (headless Chromium)"
  before=$FAILED
  out=$RUN/ui-tally.txt
  grep_args=(); [ -n "${MUSE_UI_GREP:-}" ] && grep_args=(--grep "$MUSE_UI_GREP")
  MUSE_CODE_SERVER_URL=$URL MUSE_UI_DATA_DIR=$RUN/muse-data-ui MUSE_UI_MACHINE_SETTINGS=$RUN/cs-ui/udd/Machine/settings.json MUSE_UI_WORKSPACE=$(fresh_workspace ws-ui) MUSE_TALLY=$out \
    npx mocha --reporter "$ROOT/test/support/tallyReporter.js" --timeout 120000 "${grep_args[@]}" 'out/test/ui/**/*.test.js'
  rc=$?
  if [ -s "$out" ]; then read -r p f s < "$out"; tally "$p" "$f" "$s"; else tally 0 1 0; failure "UI: mocha reported no counts"; fi
  [ $rc -ne 0 ] && [ "$FAILED" -eq "$before" ] && { tally 0 1 0; failure "UI: mocha exited $rc"; }
  say "UI tests done ($(elapsed))"
  stop_code_server
fi

# --- 5. the VSIX installs --------------------------------------------------------------------
if [ -z "${MUSE_VSCODE_SKIP_VSIX:-}" ]; then
  say "VSIX: vsce package + code-server --install-extension"
  vsix=$RUN/muse-runner.vsix
  if npx vsce package --no-dependencies --no-rewrite-relative-links -o "$vsix" > "$RUN/vsce.log" 2>&1 \
    && XDG_DATA_HOME=$RUN/xdg-data XDG_CONFIG_HOME=$RUN/xdg-config TMPDIR=$RUN/tmp \
      "$CODE_SERVER" --config "$RUN/config.yaml" --user-data-dir "$RUN/udd-vsix" --extensions-dir "$RUN/exts-vsix" \
      --install-extension "$vsix" >> "$RUN/vsce.log" 2>&1 \
    && XDG_DATA_HOME=$RUN/xdg-data XDG_CONFIG_HOME=$RUN/xdg-config TMPDIR=$RUN/tmp \
      "$CODE_SERVER" --config "$RUN/config.yaml" --user-data-dir "$RUN/udd-vsix" --extensions-dir "$RUN/exts-vsix" \
      --list-extensions 2>>"$RUN/vsce.log" | grep -qx 'muse-runner.muse-runner'; then
    echo "  ✔ $(du -k "$vsix" | cut -f1) KiB VSIX installs as muse-runner.muse-runner"; tally 1 0 0
  else
    echo "  ✘ the VSIX did not package or install:"; tail -20 "$RUN/vsce.log"; tally 0 1 0
    failure "VSIX: did not package or install (see $RUN/vsce.log)"
  fi
fi

say "vscode tier: $PASSED passed, $FAILED failed, $PENDING pending ($(elapsed))"
[ "$FAILED" -eq 0 ]
