#!/usr/bin/env bash
# Installs everything Twinsight needs on a fresh Debian machine: system packages (only the
# missing ones), a virtual environment in .venv and the pinned Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# wrk: HTTP load generator for bench/graph.py; mosquitto: the MQTT broker the tests run
# (and the embedded broker's fallback); libcoap3-bin: coap-client for the CoAP tests;
# gcc, libc6-dev: the FMU tests compile their test FMUs from C; chromium: the headless
# browser the web page's tests and benchmark drive; nodejs, npm: install the page's browser
# libraries (only when the machine has no npm of its own).
SYSTEM_PACKAGES=(python3-venv wrk mosquitto mosquitto-clients libcoap3-bin gcc libc6-dev chromium)
command -v npm >/dev/null 2>&1 || SYSTEM_PACKAGES+=(nodejs npm)

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

# The web page's browser libraries: pinned by src/twinsight/ui/package-lock.json, installed
# from the npm registry (only when the lock changed) and copied where the server serves them.
UI=src/twinsight/ui
if [ ! -f "$UI/node_modules/.package-lock.json" ] || [ "$UI/package-lock.json" -nt "$UI/node_modules/.package-lock.json" ]; then
  echo "setup: installing the web page's libraries (npm ci)"
  (cd "$UI" && npm ci --no-audit --no-fund --loglevel=error)
fi
VENDOR="$UI/static/vendor"
mkdir -p "$VENDOR/three/addons/controls" "$VENDOR/uplot"
cp -u "$UI"/node_modules/three/build/three.module.js "$UI"/node_modules/three/build/three.core.js \
  "$UI"/node_modules/three/LICENSE "$VENDOR/three/"
cp -u "$UI"/node_modules/three/examples/jsm/controls/OrbitControls.js "$VENDOR/three/addons/controls/"
cp -u "$UI"/node_modules/uplot/dist/uPlot.esm.js "$UI"/node_modules/uplot/dist/uPlot.min.css \
  "$UI"/node_modules/uplot/LICENSE "$VENDOR/uplot/"
echo "setup: done"
