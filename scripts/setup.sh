#!/usr/bin/env bash
# Installs what MicroCurate needs on a fresh Debian machine: ffmpeg, then the Python venv.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing $* and not root: install it with 'sudo apt-get install -y $*'" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || apt_install ffmpeg
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || apt_install fonts-dejavu-core
# The browser end-to-end tests drive Debian's Chromium with Playwright (no browser downloads).
command -v chromium >/dev/null && command -v chromedriver >/dev/null || apt_install chromium chromium-driver

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# torch 2.14.1 / torchvision 0.29.1 come from this machine's local wheel store when present.
.venv/bin/pip install --disable-pip-version-check -q -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import django, celery, cv2, torch, torchvision, ffmpeg" \
  || { echo "the virtual environment is incomplete: see the pip output above" >&2; exit 1; }
