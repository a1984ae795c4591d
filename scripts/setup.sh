#!/usr/bin/env bash
# Installs everything Twinsight needs on a fresh Debian machine: system packages (only the
# missing ones), a virtual environment in .venv and the pinned Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# wrk: HTTP load generator for bench/graph.py; mosquitto: the MQTT broker the tests run
# (and the embedded broker's fallback); libcoap3-bin: coap-client for the CoAP tests;
# gcc, libc6-dev: the FMU tests compile their test FMUs from C.
SYSTEM_PACKAGES=(python3-venv wrk mosquitto mosquitto-clients libcoap3-bin gcc libc6-dev)

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
echo "setup: installing Python packages (pinned in pyproject.toml)"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
echo "setup: done"
