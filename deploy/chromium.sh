#!/usr/bin/env bash
# Headless Chromium for the browser tests, from Debian's packages (with CJK fonts for the zh-CN pages).
#   deploy/chromium.sh install | path
set -euo pipefail

path() { command -v chromium || command -v chromium-browser || true; }

case "${1:-install}" in
  install)
    if [[ -n "$(path)" ]] && dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
      exit 0
    fi
    echo "chromium: installing Debian's chromium and fonts-noto-cjk with apt-get ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium fonts-noto-cjk >/dev/null 2>&1 || {
      apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-noto-cjk >/dev/null
    }
    echo "chromium: $(path)"
    ;;
  path) path ;;
  *) echo "usage: deploy/chromium.sh install|path" >&2; exit 2 ;;
esac
