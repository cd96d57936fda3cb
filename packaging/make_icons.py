"""Renders the app icon's PNGs (48, 128 and 256 px, the sizes the desktop's icon theme asks for
first) from resources/aos-trace-inspector.svg with Qt's SVG renderer. The PNGs are committed:
run this again after changing the SVG.

    python packaging/make_icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
NAME = "aos-trace-inspector"
SIZES = (48, 128, 256)


def render(svg: Path, size: int, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"{out}: could not be written")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - kept alive while painting
    svg = RESOURCES / f"{NAME}.svg"
    for size in SIZES:
        out = RESOURCES / f"{NAME}-{size}.png"
        render(svg, size, out)
        print(out.relative_to(RESOURCES.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
