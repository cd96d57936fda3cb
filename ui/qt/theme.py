"""Colours and fonts, light and dark: every colour the app draws is a named role here, or comes from
the palette. The scheme follows the system's (``QStyleHints.colorScheme``, live) unless the user
chose one (View → Colour Scheme, kept in the settings) or ``TRACE_INSPECTOR_COLOR_SCHEME`` forces
it (tests, screenshots).

No application-wide style sheet: Qt then routes every widget, item views included, through its
style-sheet style, which cost ~40 ms building the main window and a third of every page paint.
The palette covers the views; the few coloured banners get their own small style sheet, made
again when the scheme changes. Item models ask :func:`colours` in their ``data()``: one call
returning ready ``QColor`` attributes, no work per cell."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from inspector.integrity import IntegrityGrade

__all__ = [
    "COLOR_SCHEMES",
    "MARK_COLORS",
    "ROLES",
    "SCHEME_ENV",
    "SCHEME_SETTING",
    "SEVERITIES",
    "Colours",
    "Theme",
    "apply_theme",
    "badge_colours",
    "badge_style",
    "choose_scheme",
    "clear_severity",
    "colours",
    "css",
    "current_scheme",
    "dark_palette",
    "grade_colours",
    "muted",
    "placeholder_label",
    "scheme_choice",
    "set_invalid",
    "set_severity",
    "severity_colours",
    "title_font",
]

#: The environment variable that forces a scheme (``light``, ``dark`` or ``system``).
SCHEME_ENV = "TRACE_INSPECTOR_COLOR_SCHEME"
#: Where the user's choice (View → Colour Scheme) is kept.
SCHEME_SETTING = "view/colorScheme"
#: The choices, with their menu texts.
COLOR_SCHEMES = (("system", "&System"), ("light", "&Light"), ("dark", "&Dark"))

#: Every role: (light, dark). Text roles stay ≥ 4.5:1 against the scheme's Base, AlternateBase and
#: Window and against the backgrounds they are drawn on; backgrounds stay ≥ 4.5:1 against the
#: scheme's Text (tests/ui/test_theme.py measures them). No two roles share a value, in either
#: scheme: rich text is moved from one scheme to the other by its colours (:func:`_retint`).
ROLES: dict[str, tuple[str, str]] = {
    # text
    "failure": ("#c0392b", "#ff8a7d"),
    "success": ("#1b7531", "#6fcf87"),
    "warning": ("#8a5a00", "#e8b04a"),
    "muted": ("#6b6b6b", "#a0a0a0"),
    "link": ("#1f5f9e", "#79b0ea"),
    "source_llm": ("#22679a", "#5aa2e0"),
    "source_system": ("#5f6a6a", "#a8b4b5"),
    "source_policy": ("#7d3c98", "#b48be0"),
    # backgrounds (under the palette's Text, or one of the text roles above)
    "error_bg": ("#fdecea", "#4a2320"),
    "warning_bg": ("#fff3cd", "#3d310c"),
    "success_bg": ("#e6f4ea", "#1f3b27"),
    "info_bg": ("#e8f1fb", "#1e3348"),
    "changed_bg": ("#fff3d1", "#3d3210"),
    "changed_cell_bg": ("#ffdf8a", "#5c4a12"),
    "left_bg": ("#fde5e2", "#45221f"),
    "right_bg": ("#e2f3e5", "#1d3a24"),
    "absent_bg": ("#f0f0f0", "#2a2a2a"),
    "header_bg": ("#eef0f3", "#33373d"),
    # the compare table's marker column: backgrounds under ``marker_text``
    "marker_equal": ("#e4e7eb", "#3a3f45"),
    "marker_rule": ("#cfe0f5", "#2e4f7a"),
    "marker_changed": ("#f0b429", "#7d5f0c"),
    "marker_left": ("#e0695c", "#8c3a30"),
    "marker_right": ("#4fae67", "#2f6e40"),
    "marker_text": ("#1a1a1a", "#f2f2f2"),
    # lines
    "error_border": ("#e6a29a", "#8a4038"),
    "warning_border": ("#e8c66d", "#80661c"),
    "success_border": ("#8cc9a0", "#3b7a4c"),
    "separator": ("#e4e4e4", "#3c3c3c"),
}

#: Marks drawn the same in both schemes: icons (a glyph on its own fill), chart series, the solid
#: grade badge (white on its colour). They carry their own contrast.
MARK_COLORS: dict[str, str] = {
    "status_success": "#27ae60",
    "status_failure": "#c0392b",
    "status_retry": "#e67e22",
    "status_skipped": "#95a5a6",
    "status_unknown": "#8e44ad",
    "status_running": "#2980b9",
    "warning_edge": "#b9770e",
    "warning_fill": "#f5b041",
    "warning_glyph": "#222222",
    "glyph": "#ffffff",
    "severity_fail": "#c0392b",
    "severity_warn": "#c47f00",
    "severity_info": "#2e6da4",
    "evidence_present": "#1e7e34",
    "evidence_absent": "#9e9e9e",
    "source_llm": "#2e86c1",
    "source_system": "#7f8c8d",
    "source_policy": "#8e44ad",
    "source_other": "#555555",
    "bar_success": "#2e9d57",
    "bar_skipped": "#9e9e9e",
    "bar_unknown": "#7a5bc7",
    "bar_retry": "#e08a1e",
    "bar_failure": "#c0392b",
    "bar_latency": "#3b6ea8",
    "bar_cost": "#8a6d1e",
    "bar_runs": "#5b8fc7",
    "bar_failed_runs": "#c0392b",
    "span_fill": "#3cffaa00",
    "span_edge": "#d68910",
    "solid_pass": "#1e8449",
    "solid_warn": "#9c6500",
    "solid_fail": "#c0392b",
    "solid_none": "#6b6b6b",
}

_ROLE_NAMES = tuple(ROLES)


class Colours:
    """One scheme's roles as ``QColor`` attributes (``colours().failure``) and as CSS (:meth:`css`)."""

    __slots__ = ("dark", "hexes", *_ROLE_NAMES)

    def __init__(self, dark: bool) -> None:
        self.dark = dark
        #: role → ``#rrggbb``, and ``mark_*`` for the marks (what style sheets are formatted with).
        self.hexes = {name: pair[1 if dark else 0] for name, pair in ROLES.items()}
        self.hexes.update({f"mark_{name}": value for name, value in MARK_COLORS.items()})
        for name in _ROLE_NAMES:
            setattr(self, name, QColor(self.hexes[name]))

    def css(self, role: str) -> str:
        return self.hexes[role]


_LIGHT = Colours(False)
_DARK = Colours(True)
#: The scheme applied to the application (process-wide, like ``QApplication.palette()``): set by
#: :class:`Theme` before it changes the palette, so whatever repaints then reads the new colours.
_current = _LIGHT


def colours() -> Colours:
    """The colours of the scheme shown (light until a :class:`Theme` applies another)."""
    return _current


def css(role: str) -> str:
    """A role's colour as ``#rrggbb``, for rich text and style sheets."""
    return _current.hexes[role]


# -- grades -----------------------------------------------------------------------------------------

_GRADE_ROLES = {
    IntegrityGrade.PASS: ("success", "success_bg", "solid_pass"),
    IntegrityGrade.WARN: ("warning", "warning_bg", "solid_warn"),
    IntegrityGrade.FAIL: ("failure", "error_bg", "solid_fail"),
}


def grade_colours(grade: IntegrityGrade) -> tuple[QColor, QColor]:
    """A grade's text colour and its badge's tint (the runs list's Grade cells)."""
    fg, bg, _solid = _GRADE_ROLES[grade]
    return getattr(_current, fg), getattr(_current, bg)


def badge_colours(grade: IntegrityGrade | None) -> tuple[str, str]:
    """The solid badge's background and text (the Evidence panel's big badge; grey without a grade)."""
    solid = _GRADE_ROLES[grade][2] if grade is not None else "solid_none"
    return MARK_COLORS[solid], MARK_COLORS["glyph"]


def badge_style(grade: IntegrityGrade | None) -> str:
    """The style sheet of a QLabel shown as a solid grade badge (the same in both schemes)."""
    bg, fg = badge_colours(grade)
    return (f"QLabel {{ background: {bg}; color: {fg}; border-radius: 4px; padding: 3px 10px; "
            "font-weight: bold; }")


# -- banners and fields -------------------------------------------------------------------------------

#: Banner styles, formatted with the scheme's roles (``{mark_…}``: a mark). Banners that are
#: frames draw their labels in the palette's WindowText, so every background suits it too.
SEVERITIES: dict[str, str] = {
    "error": "background: {error_bg}; color: {failure}; border-bottom: 1px solid {error_border};",
    "warning": "background: {warning_bg}; color: {warning}; border-bottom: 1px solid {warning_border};",
    "payload-warning": "background: {warning_bg}; color: {warning}; padding: 4px 6px; border-radius: 3px;",
    "payload-info": "background: {info_bg}; color: {link}; padding: 4px 6px; border-radius: 3px;",
    # The verification banner of an export bundle: verified by a trusted key, verified by a key
    # not (yet) trusted, untrusted (failed verification, opened on request).
    "verified": "background: {success_bg}; color: {success}; border-bottom: 2px solid {mark_solid_pass};",
    "verified-unknown": "background: {warning_bg}; color: {warning}; border-bottom: 2px solid {mark_severity_warn};",
    "untrusted": "background: {error_bg}; color: {failure}; border-bottom: 3px solid {mark_solid_fail};",
    "ok": "background: {success_bg}; color: {success};",
    # The compare window's verdict bar (parity holds, holds under the rules, broken) and headline.
    "holds": "background: {success_bg}; border: 1px solid {success_border}; border-radius: 4px;",
    "ruled": "background: {warning_bg}; border: 1px solid {warning_border}; border-radius: 4px;",
    "broken": "background: {error_bg}; border: 1px solid {error_border}; border-radius: 4px;",
    "holds-text": "color: {success};",
    "ruled-text": "color: {warning};",
    "broken-text": "color: {failure};",
    # A field's error message.
    "error-text": "color: {failure};",
}
_COLOUR_PROPERTY = re.compile(r"(?:^|;)\s*(background|color)\s*:\s*(#[0-9a-fA-F]{6})")


def severity_colours(severity: str, scheme: Colours | None = None) -> tuple[str | None, str | None]:
    """A banner style's background and text colour (``#rrggbb``, None where it sets none)."""
    found = dict((k, v) for k, v in _COLOUR_PROPERTY.findall(SEVERITIES[severity].format_map((scheme or _current).hexes)))
    return found.get("background"), found.get("color")


def _selector(widget: QWidget) -> str:
    # A bare QFrame's type would reach its labels (a QLabel is a QFrame): name it.
    name = widget.objectName()
    return f"{type(widget).__name__}#{name}" if name else type(widget).__name__


def set_severity(widget: QWidget, severity: str, *, extra: str = "") -> None:
    """Colour a banner (one of :data:`SEVERITIES`: ``error``, ``warning``, ``payload-warning``,
    ``payload-info``, the bundle banner's ``verified``, ``verified-unknown`` and ``untrusted``…),
    ``extra`` adding declarations (padding, font) of its own. Made again when the scheme changes."""
    style = SEVERITIES[severity].format_map(_current.hexes)
    widget.setStyleSheet(f"{_selector(widget)} {{ {style} {extra}}}")
    widget.setProperty("severity", severity)
    widget.setProperty("severityExtra", extra or None)


def clear_severity(widget: QWidget) -> None:
    widget.setStyleSheet("")
    widget.setProperty("severity", None)
    widget.setProperty("severityExtra", None)


def _invalid_style() -> str:
    return f"QLineEdit {{ border: 1px solid {css('failure')}; background: {css('error_bg')}; }}"


def set_invalid(widget: QWidget, invalid: bool) -> None:
    if bool(widget.property("invalid")) == invalid:
        return
    widget.setProperty("invalid", invalid)
    widget.setStyleSheet(_invalid_style() if invalid else "")


def title_font(base: QFont) -> QFont:
    f = QFont(base)
    f.setPointSizeF(base.pointSizeF() * 1.3)
    f.setBold(True)
    return f


def muted(label: QLabel) -> None:
    """Secondary text: drawn in the palette's PlaceholderText, so it follows the scheme."""
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)


def placeholder_label(name: str = "") -> QLabel:
    """The muted, centred, wrapping text shown where a table has nothing to show yet."""
    label = QLabel()
    if name:
        label.setObjectName(name)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    muted(label)
    return label


# -- palettes -------------------------------------------------------------------------------------

_R = QPalette.ColorRole
_G = QPalette.ColorGroup

#: The dark palette used where the platform has none (Fusion and offscreen have no dark one).
_DARK_PALETTE = {
    _R.Window: "#2b2b2b", _R.WindowText: "#e6e6e6", _R.Base: "#1e1e1e", _R.AlternateBase: "#262626",
    _R.Text: "#e6e6e6", _R.PlaceholderText: "#a0a0a0", _R.Button: "#353535", _R.ButtonText: "#e6e6e6",
    _R.BrightText: "#ff6b6b", _R.Light: "#4a4a4a", _R.Midlight: "#3c3c3c", _R.Mid: "#2f2f2f",
    _R.Dark: "#1a1a1a", _R.Shadow: "#0d0d0d", _R.Highlight: "#2f5d8a", _R.HighlightedText: "#ffffff",
    _R.ToolTipBase: "#3a3a3a", _R.ToolTipText: "#eeeeee", _R.Link: "#79b0ea", _R.LinkVisited: "#b99bea",
    _R.Accent: "#2f5d8a",
}
_DARK_DISABLED = {
    _R.WindowText: "#7c7c7c", _R.Text: "#7c7c7c", _R.ButtonText: "#7c7c7c", _R.Base: "#262626",
    _R.Button: "#2e2e2e", _R.Highlight: "#3c3c3c", _R.HighlightedText: "#9a9a9a", _R.PlaceholderText: "#6a6a6a",
}
#: What the light scheme changes of the platform's light palette.
_LIGHT_TWEAKS = {
    _R.Highlight: "#cfe3fb", _R.HighlightedText: "#111111", _R.AlternateBase: "#f6f8fa",
    _R.PlaceholderText: "#6b6b6b",
}


def dark_palette() -> QPalette:
    """The app's own dark palette (every role and the disabled group)."""
    pal = QPalette()
    for role, value in _DARK_PALETTE.items():
        pal.setColor(role, QColor(value))
    for role, value in _DARK_DISABLED.items():
        pal.setColor(_G.Disabled, role, QColor(value))
    return pal


def _is_dark(pal: QPalette) -> bool:
    return pal.color(_R.Window).lightnessF() < 0.5


def _retint(text: str, old: Colours, new: Colours) -> str:
    """Rich text moved from one scheme to the other: the role colours in its ``style`` attributes
    (only ours: user text is escaped, so it holds no quote to open one)."""
    if old is new or "style=" not in text:
        return text
    swap = {old.hexes[name].lower(): new.hexes[name] for name in _ROLE_NAMES}

    def style(m: re.Match) -> str:
        return re.sub(r"#[0-9a-fA-F]{6}\b", lambda h: swap.get(h.group(0).lower(), h.group(0)), m.group(0))

    return re.sub(r"style=(['\"])[^'\"]*\1", style, text)


def scheme_choice(saved: object = None) -> str:
    """The scheme to start with: ``TRACE_INSPECTOR_COLOR_SCHEME`` when set, else the saved choice,
    else the system's."""
    for value in (os.environ.get(SCHEME_ENV), saved):
        if isinstance(value, str) and value.strip().lower() in {c for c, _ in COLOR_SCHEMES}:
            return value.strip().lower()
    return "system"


class Theme(QObject):
    """The application's colour scheme: the system's (followed live), or the one chosen. It sets
    the palette (the platform's when it has the scheme's, else the app's own, in the Fusion style),
    :func:`colours`, and remakes the banners' style sheets and the rich text of labels."""

    #: True when the scheme applied is dark.
    changed = Signal(bool)

    def __init__(self, app: QApplication, choice: str = "system", *,
                 system_scheme: Callable[[], Qt.ColorScheme] | None = None) -> None:
        super().__init__(app)
        self.setObjectName("theme")
        self._app = app
        self._choice = choice if choice in {c for c, _ in COLOR_SCHEMES} else "system"
        #: What the system says (tests give their own: the offscreen platform has no scheme).
        self._system = system_scheme or app.styleHints().colorScheme
        #: The style replaced by Fusion for the app's own palette (put back when not needed).
        self._replaced_style: str | None = None
        self._applying = False
        self.dark = False
        app.styleHints().colorSchemeChanged.connect(self._system_changed)

    @staticmethod
    def of(app: QApplication) -> Theme | None:
        found = app.findChild(Theme, "theme")
        return found if isinstance(found, Theme) else None

    @property
    def choice(self) -> str:
        return self._choice

    def set_choice(self, choice: str) -> None:
        choice = choice if choice in {c for c, _ in COLOR_SCHEMES} else "system"
        if choice != self._choice:
            self._choice = choice
            self.apply()

    def _system_changed(self, _scheme) -> None:
        if self._choice == "system" and not self._applying:
            self.apply()

    def apply(self) -> None:
        if self._applying:
            return
        self._applying = True
        try:
            self._apply()
        finally:
            self._applying = False

    def _apply(self) -> None:
        global _current
        app, hints = self._app, self._app.styleHints()
        # Where the platform can switch its own palette (Qt ≥ 6.8: Windows, macOS, some Linux
        # desktops), ask it to; offscreen and bare X11 ignore this and get the app's palette.
        if self._choice == "system":
            hints.unsetColorScheme()
        else:
            hints.setColorScheme(Qt.ColorScheme.Dark if self._choice == "dark" else Qt.ColorScheme.Light)
        if self._replaced_style is not None:
            app.setStyle(self._replaced_style)
            self._replaced_style = None
        app.setPalette(QPalette())  # no role of ours: the platform's (or the style's) palette
        base = app.palette()
        base_dark = _is_dark(base)
        if self._choice == "system":
            system = self._system()
            dark = system == Qt.ColorScheme.Dark or (system == Qt.ColorScheme.Unknown and base_dark)
        else:
            dark = self._choice == "dark"
        old, _current = _current, (_DARK if dark else _LIGHT)
        if dark and base_dark:
            pal = QPalette(base)
            pal.setColor(_R.PlaceholderText, QColor(_DARK_PALETTE[_R.PlaceholderText]))
        elif dark:
            if app.style().name().lower() != "fusion":
                self._replaced_style = app.style().name()
                app.setStyle("Fusion")  # native styles (windowsvista, macOS) ignore much of a palette
            pal = dark_palette()
        else:
            if base_dark:  # light chosen on a dark desktop
                if app.style().name().lower() != "fusion":
                    self._replaced_style = app.style().name()
                    app.setStyle("Fusion")
                base = app.style().standardPalette()
            pal = QPalette(base)
            for role, value in _LIGHT_TWEAKS.items():
                pal.setColor(role, QColor(value))
        app.setPalette(pal)
        self.dark = dark
        _restyle(old, _current)
        self.changed.emit(dark)

    def remove(self) -> None:
        """The platform's palette and style back, the light colours, no more following (tests)."""
        global _current
        try:
            self._app.styleHints().colorSchemeChanged.disconnect(self._system_changed)
        except (RuntimeError, TypeError):
            pass
        self._app.styleHints().unsetColorScheme()
        if self._replaced_style is not None:
            self._app.setStyle(self._replaced_style)
            self._replaced_style = None
        old, _current = _current, _LIGHT
        self._app.setPalette(QPalette())
        _restyle(old, _current)
        self.setParent(None)
        self.deleteLater()


def _restyle(old: Colours, new: Colours) -> None:
    """Banners, fields and rich-text labels in the new scheme's colours (the views repaint from
    the palette and their models by themselves)."""
    if old is new:
        return
    for w in QApplication.allWidgets():
        severity = w.property("severity")
        if isinstance(severity, str) and severity in SEVERITIES:
            set_severity(w, severity, extra=w.property("severityExtra") or "")
        if w.property("invalid"):
            w.setStyleSheet(_invalid_style())
        if isinstance(w, QLabel):
            text = w.text()
            moved = _retint(text, old, new)
            if moved != text:
                w.setText(moved)
        tip = w.toolTip()
        if tip:
            moved = _retint(tip, old, new)
            if moved != tip:
                w.setToolTip(moved)


def apply_theme(app: QApplication, choice: str | None = None) -> Theme:
    """Colour the application in the scheme chosen (``system``, ``light``, ``dark``;
    None: :func:`scheme_choice`), following the system's when that is the choice. The
    :class:`Theme` is made once, a child of ``app``."""
    theme = Theme.of(app)
    if theme is None:
        theme = Theme(app, choice if choice is not None else scheme_choice())
        theme.apply()
    elif choice is not None:
        theme.set_choice(choice)
    return theme


def current_scheme(app: QApplication) -> str:
    """The scheme chosen (``system``, ``light`` or ``dark``)."""
    theme = Theme.of(app)
    return theme.choice if theme is not None else "system"


def choose_scheme(app: QApplication, settings, choice: str) -> None:
    """View → Colour Scheme: applied at once, and kept in ``settings`` for the next start."""
    settings.setValue(SCHEME_SETTING, choice)
    apply_theme(app, choice)
