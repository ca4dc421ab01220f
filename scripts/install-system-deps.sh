#!/usr/bin/env bash
# Installs the Debian packages the project uses, where they are missing and apt-get can.
#   bubblewrap: the grader's sandbox (bwrap).
#   chromium and chromium-driver: the headless browser (and its WebDriver) that renders the
#   feedback and report pages and drives the hand-grading web page in the tests.
# Never fails the build: without these the grader falls back and says so, and the browser
# test skips with the reason.
set -u
want=()
command -v bwrap >/dev/null 2>&1 || want+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v chromedriver >/dev/null 2>&1 || want+=(chromium-driver)
[ ${#want[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "warning: missing ${want[*]} and no root to install it (without bubblewrap the grader runs unsandboxed; without chromium the browser test skips)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: missing ${want[*]} and no apt-get; install it with your package manager" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# One package at a time, so that a browser that cannot be installed never costs the sandbox.
updated=0
for package in "${want[@]}"; do
  if "${sudo[@]}" apt-get install -y -q "$package" >/dev/null 2>&1; then
    continue
  fi
  if [ "$updated" -eq 0 ]; then
    "${sudo[@]}" apt-get update -q >/dev/null 2>&1
    updated=1
  fi
  "${sudo[@]}" apt-get install -y -q "$package" >/dev/null 2>&1 \
    || echo "warning: could not install $package (without bubblewrap the grader runs unsandboxed; without chromium the browser test skips)" >&2
done
exit 0
