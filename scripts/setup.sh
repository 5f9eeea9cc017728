#!/usr/bin/env bash
# `npm run setup`: the system packages that the full test suite needs beyond Node, from Debian:
# PyTorch (CPU) for the reference trainer (packages/trainer/python/train.py) and Chromium for the
# dashboard's browser tests. Without them `npm test` skips those suites and says so. Needs root
# (or sudo) and apt; installs only what is missing. .ci/run calls this script.
set -euo pipefail

need=()
python="${POWERSWEEP_PYTHON:-/usr/bin/python3}"
"$python" -c 'import torch' >/dev/null 2>&1 || need+=(python3 python3-torch libopenblas0-pthread)
[ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  echo "setup: PyTorch and Chromium are installed"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root to install: ${need[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "setup: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "setup: done"
