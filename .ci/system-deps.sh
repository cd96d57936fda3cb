#!/usr/bin/env bash
# Debian/Ubuntu packages the app and its tests need (ENVIRONMENT.md): Qt's runtime libraries,
# a font (without one every glyph is a box), and Xvfb for screenshots. Installs only what is missing.
set -euo pipefail
pkgs=(libegl1 libgl1 libfontconfig1 libfreetype6 libglib2.0-0 libx11-6 libxkbcommon0 libdbus-1-3
      libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-render0
      libxcb-shape0 libxcb-util1 libxcb-xkb1 libxkbcommon-x11-0 fonts-dejavu-core xvfb xauth)
pkgs+=(${EXTRA_APT_PACKAGES:-})
command -v dpkg-query >/dev/null 2>&1 || { echo "system-deps: not a Debian-like system; install Qt's libraries yourself" >&2; exit 0; }
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "system-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
