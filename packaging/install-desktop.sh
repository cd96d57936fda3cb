#!/bin/sh
# Adds AOS Trace Inspector to the desktop's application menu, for the current user: its desktop
# entry (starting the trace-inspector beside this script) and its icon in the hicolor theme.
# packaging/build.py copies it into the built folder (dist/trace-inspector/).
#   ./install-desktop.sh            install (again: replaces)
#   ./install-desktop.sh --remove   remove what it installed
set -eu
here=$(cd "$(dirname "$0")" && pwd)
res="$here/_internal/resources"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
entry="$data/applications/aos-trace-inspector.desktop"
icons="$data/icons/hicolor"

case "${1:-}" in
  --remove)
    rm -f "$entry" "$icons/scalable/apps/aos-trace-inspector.svg"
    for size in 48 128 256; do rm -f "$icons/${size}x${size}/apps/aos-trace-inspector.png"; done
    ;;
  "")
    [ -x "$here/trace-inspector" ] && [ -f "$res/aos-trace-inspector.desktop" ] \
      || { echo "install-desktop.sh: run it from the built trace-inspector folder" >&2; exit 1; }
    # Exec= names this folder's executable, quoted (the path may hold spaces); characters that the
    # desktop entry spec would need escaped twice are refused rather than half escaped.
    case "$here" in
      *[\\\"\`\$%]*) echo "install-desktop.sh: move the folder to a path without \\ \" \` \$ %" >&2; exit 1 ;;
    esac
    for size in 48 128 256; do
      mkdir -p "$icons/${size}x${size}/apps"
      cp "$res/aos-trace-inspector-$size.png" "$icons/${size}x${size}/apps/aos-trace-inspector.png"
    done
    mkdir -p "$icons/scalable/apps" "$data/applications"
    cp "$res/aos-trace-inspector.svg" "$icons/scalable/apps/aos-trace-inspector.svg"
    exe=$(printf '%s' "$here/trace-inspector" | sed -e 's/[&|]/\\&/g')  # sed's own specials
    sed -e "s|^Exec=.*|Exec=\"$exe\" %f|" -e "s|^TryExec=.*|TryExec=$exe|" \
      "$res/aos-trace-inspector.desktop" >"$entry"
    echo "$entry"
    ;;
  *)
    echo "usage: install-desktop.sh [--remove]" >&2
    exit 2
    ;;
esac
# Menus and icon caches pick the change up now rather than at the next login (when installed).
if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$data/applications" || true; fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t "$icons" || true; fi
