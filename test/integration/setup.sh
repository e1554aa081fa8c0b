#!/usr/bin/env bash
# Set-up of the integration tier (idempotent): bubblewrap for the singularity stand-in, and the
# sw_example test image in .cache/images/sw_example. Exit 77 when something is missing and
# cannot be installed here (not root, no apt-get): scripts/test.sh then skips the tier loudly.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ -x /usr/bin/python3 ] || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "integration setup: missing ${missing[*]}; install as root: apt-get install ${missing[*]}" >&2
    exit 77
  fi
  echo "integration setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
    { echo "integration setup: apt-get install ${missing[*]} failed" >&2; exit 77; }
fi

# The stand-in's sandbox must work here (it may not in a container without user namespaces).
if ! bwrap --ro-bind / / --dev /dev --proc /proc true 2>/dev/null; then
  echo "integration setup: bwrap cannot make a sandbox on this machine" >&2
  exit 77
fi

bash test/fixtures/singularity/build-image.sh .cache/images/sw_example
echo "integration setup: image ready in .cache/images/sw_example"
