#!/usr/bin/env bash
# Installs what the vscode tier needs, idempotently, and prints the code-server binary's path
# on its last line of stdout. Everything lands under .cache/ (gitignored), nothing in the
# project's node_modules:
#   - Debian packages: chromium (the browser Playwright drives), ripgrep, and the headers
#     code-server's native modules build against;
#   - code-server (VS Code's own server and workbench, from npm) into .cache/code-server.
# Exit 77 when this machine cannot be set up (not root, no apt): the caller skips loudly.
set -uo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
CODE_SERVER_VERSION=4.100.3 # the newest release that runs on Node 20 (see shared/test-stack.md)
# @vscode/ripgrep's postinstall (the version code-server 4.100.3 pins) looks for this tarball
# before downloading from GitHub, which these machines cannot reach.
RG_CACHE=vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
PREFIX=$ROOT/.cache/code-server
BIN=$PREFIX/node_modules/.bin/code-server
APT_PACKAGES=(chromium libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev ripgrep)

log() { echo "[vscode setup] $*" >&2; }
cannot() { log "CANNOT SET UP: $*"; exit 77; }

installed_version() { # the code-server version under PREFIX, or nothing
  node -p "require('$PREFIX/node_modules/code-server/package.json').version" 2>/dev/null
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || cannot "Debian packages missing (${missing[*]}) and not root"
  command -v apt-get >/dev/null || cannot "Debian packages missing (${missing[*]}) and no apt-get"
  log "apt-get install ${missing[*]}"
  start=$(date +%s)
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 \
    || { log "apt-get install failed"; exit 1; }
  log "apt packages installed in $(( $(date +%s) - start )) s"
fi

if [ "$(installed_version)" != "$CODE_SERVER_VERSION" ]; then
  log "npm install code-server@$CODE_SERVER_VERSION into .cache/code-server (takes 1-2 minutes)"
  start=$(date +%s)
  tmp=$ROOT/.cache/tmp
  mkdir -p "$tmp/$(dirname "$RG_CACHE")" "$PREFIX"
  rg_bin=$(command -v rg) || { log "no rg after installing ripgrep"; exit 1; }
  tar -czf "$tmp/$RG_CACHE" -C "$(dirname "$rg_bin")" rg || exit 1
  # A plain project install in its own folder, not `--global --prefix`: npm hands those settings
  # to install scripts through npm_config_* variables, and code-server's postinstall (an
  # `npm install` in lib/vscode) then takes itself for a global install and retires its own
  # parent package mid-flight (ENOTEMPTY / TAR_ENTRY_ERROR).
  echo '{ "private": true, "description": "code-server for the vscode test tier" }' > "$PREFIX/package.json"
  # unsafe_perm: as root, older npm would run the install scripts as nobody and fail.
  (cd "$PREFIX" && TMPDIR=$tmp npm_config_unsafe_perm=true npm_config_yes=true \
    npm install --no-audit --no-fund --no-save --loglevel=error \
    "code-server@$CODE_SERVER_VERSION" >&2) \
    || { log "npm install code-server failed"; exit 1; }
  [ "$(installed_version)" = "$CODE_SERVER_VERSION" ] || { log "code-server did not install"; exit 1; }
  log "code-server $CODE_SERVER_VERSION installed in $(( $(date +%s) - start )) s"
fi
echo "$BIN"
