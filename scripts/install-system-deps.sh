#!/usr/bin/env bash
# Installs the Debian packages the project uses, where they are missing and apt-get can.
#   bubblewrap: the grader's sandbox (bwrap).
# Never fails the build: without these the grader falls back and says so.
set -u
want=()
command -v bwrap >/dev/null 2>&1 || want+=(bubblewrap)
[ ${#want[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "warning: missing ${want[*]} and no root to install it; the grader will run unsandboxed" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: missing ${want[*]} and no apt-get; install it with your package manager" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get install -y -q "${want[@]}" >/dev/null 2>&1 \
  || { "${sudo[@]}" apt-get update -q >/dev/null 2>&1 && "${sudo[@]}" apt-get install -y -q "${want[@]}" >/dev/null 2>&1; } \
  || echo "warning: could not install ${want[*]}; the grader will run unsandboxed" >&2
exit 0
