"""The colour schemes (ui.qt.theme). In the light and the dark scheme every cell an item view
paints (through its model's ``multiData``, as its delegate asks), the painted reasons, the grade
badges, the banners, the rich-text labels and the palette's pairs are readable: a WCAG 2 contrast
of at least 4.5:1, on the test databases the other tests read. The system's scheme is followed
live; the environment and View → Colour Scheme choose one."""

from __future__ import annotations

import html
import re

import pytest
from PySide6.QtCore import QModelIndex, QSettings, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from drivers import open_source
from drivers.sqlite_writer import SQLiteTraceWriter
from inspector.integrity import IntegrityGrade
from tests.ui.dbs import BIG_RUN, BROKEN_RUN, ORPHAN_RUN
from tests.ui.evidence_dbs import FAIL_RUN, WARN_RUN
from tests.ui.replay_dbs import write_sqlite_pair
from tests.ui.test_compare_view import write_run
from tests.ui.test_evidence_ui import evidence_db_master, open_graded, show_evidence  # noqa: F401
from tests.ui.test_main_window import WAIT, idle, open_and_wait, select_run
from ui.qt.theme import (
    ROLES,
    SCHEME_ENV,
    SCHEME_SETTING,
    SEVERITIES,
    Theme,
    _retint,
    apply_theme,
    badge_colours,
    colours,
    grade_colours,
    scheme_choice,
    set_invalid,
    severity_colours,
)

pytestmark = pytest.mark.gui
#: WCAG 2 AA for text.
MIN_CONTRAST = 4.5
P = QPalette.ColorRole


# -- contrast ---------------------------------------------------------------------------------------


def _channel(c: float) -> float:
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: QColor) -> float:
    return 0.2126 * _channel(color.redF()) + 0.7152 * _channel(color.greenF()) + 0.0722 * _channel(color.blueF())


def over(fg: QColor, bg: QColor) -> QColor:
    """``fg`` as drawn on ``bg`` (its alpha blended in)."""
    a = fg.alphaF()
    return QColor.fromRgbF(fg.redF() * a + bg.redF() * (1 - a), fg.greenF() * a + bg.greenF() * (1 - a),
                           fg.blueF() * a + bg.blueF() * (1 - a))


def contrast(fg: QColor | str, bg: QColor | str) -> float:
    fg, bg = QColor(fg), QColor(bg)
    a, b = luminance(over(fg, bg)), luminance(bg)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def test_the_contrast_is_wcags():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast(QColor(0, 0, 0, 128), QColor("#ffffff")) == pytest.approx(contrast("#7f7f7f", "#ffffff"), abs=0.05)


# -- what a window paints ----------------------------------------------------------------------------


def cell_problems(view: QAbstractItemView, seen: set[str] | None = None, limit: int = 300) -> list[str]:
    """The cells of ``view`` whose text does not stand out from what it is drawn on: the model's
    Foreground (else the palette's Text) against its Background (else Base, and AlternateBase
    when rows alternate). Walks loaded children of tree models. The model's own colours are
    added to ``seen`` (the test says which it expected to meet)."""
    model = view.model()
    if model is None:
        return []
    pal = view.palette()
    pal.setCurrentColorGroup(QPalette.ColorGroup.Active)  # as painted in an active window (a hidden
    # popup's palette may be in the disabled group, whose text need not stand out)
    backs = [pal.color(P.Base)] + ([pal.color(P.AlternateBase)] if view.alternatingRowColors() else [])
    delegate = QStyledItemDelegate()
    bad: list[str] = []

    def columns(parent: QModelIndex) -> int:
        try:
            return model.columnCount(parent)
        except TypeError:  # a list model (QAbstractListModel hides columnCount)
            return 1

    def walk(parent: QModelIndex, depth: int) -> None:
        for r in range(min(model.rowCount(parent), limit)):
            for c in range(columns(parent)):
                ix = model.index(r, c, parent)
                opt = QStyleOptionViewItem()
                opt.palette = QPalette(pal)
                delegate.initStyleOption(opt, ix)  # multiData, as the view's delegate asks
                if not opt.text.strip():
                    continue
                fg = opt.palette.color(QPalette.ColorGroup.Active, P.Text)
                brush = opt.backgroundBrush
                if seen is not None:
                    seen.update(c.name() for c in (fg, brush.color()) if c != pal.color(P.Text))
                under = [brush.color()] if brush.style() != Qt.BrushStyle.NoBrush else backs
                for bg in under:
                    ratio = contrast(fg, bg)
                    if ratio < MIN_CONTRAST:
                        bad.append(f"{view.objectName() or type(view).__name__} [{depth}:{r},{c}] "
                                   f"{opt.text[:30]!r}: {fg.name()} on {bg.name()} = {ratio:.2f}")
            first = model.index(r, 0, parent)
            if depth < 4 and model.rowCount(first) > 0:
                walk(first, depth + 1)

    walk(QModelIndex(), 0)
    return bad


def views_of(*windows: QWidget) -> list[QAbstractItemView]:
    return [v for w in windows for v in w.findChildren(QAbstractItemView) if not isinstance(v, QHeaderView)]


def views_problems(*windows: QWidget, seen: set[str] | None = None) -> list[str]:
    return [p for v in views_of(*windows) for p in cell_problems(v, seen)]


def met(seen: set[str], *roles: str) -> set[str]:
    """The roles whose colour was not met in any cell."""
    return {r for r in roles if colours().css(r) not in seen}


_STYLED_TEXT = re.compile(r"style=(['\"])([^'\"]*)\1")
_TEXT_COLOUR = re.compile(r"(?:^|;)\s*color\s*:\s*(#[0-9a-fA-F]{6})")
_BACKGROUND = re.compile(r"background(?:-color)?\s*:\s*(#[0-9a-fA-F]{6})")


def label_problems(*windows: QWidget) -> list[str]:
    """Rich-text labels whose inline colours do not stand out from the window (or from the
    background the same span sets)."""
    bad = []
    for w in windows:
        for label in w.findChildren(QLabel):
            if not label.text() or label.property("severity"):
                continue
            window = label.palette().color(P.Window)
            for _q, style in _STYLED_TEXT.findall(label.text()):
                fg = _TEXT_COLOUR.search(style)
                bg = _BACKGROUND.search(style)
                fg_colour = QColor(fg.group(1)) if fg else label.palette().color(P.WindowText)
                bg_colour = QColor(bg.group(1)) if bg else window
                if (fg or bg) and contrast(fg_colour, bg_colour) < MIN_CONTRAST:
                    bad.append(f"{label.objectName() or 'label'}: {style!r} on {bg_colour.name()} "
                               f"= {contrast(fg_colour, bg_colour):.2f}")
    return bad


def reason_problems(panel) -> list[str]:
    """The Evidence panel's reasons as its delegate paints them: plain, and selected."""
    view, model = panel.reasons_view, panel.reasons_model
    delegate = view.itemDelegate()
    pal = view.palette()
    backs = [pal.color(P.Base)] + ([pal.color(P.AlternateBase)] if view.alternatingRowColors() else [])
    bad = []
    for r in range(model.rowCount()):
        reason = model.reason_at(r)
        for selected, unders in ((False, backs), (True, [pal.color(P.Highlight)])):
            for text, _font, colour in delegate.blocks(reason, view.font(), pal, selected):
                for bg in unders:
                    if contrast(colour, bg) < MIN_CONTRAST:
                        bad.append(f"reason {reason.code} {text[:30]!r} (selected={selected}): {colour.name()} "
                                   f"on {bg.name()} = {contrast(colour, bg):.2f}")
    separator = colours().separator
    if contrast(separator, pal.color(P.Base)) < 1.2:
        bad.append(f"the reasons' separator {separator.name()} is lost on {pal.color(P.Base).name()}")
    return bad


@pytest.fixture
def evidence_db(evidence_db_master, tmp_path):  # noqa: F811
    """A private copy of the evidence database (beside ``small_db``'s ``traces.db``)."""
    target = tmp_path / "evidence.db"
    target.write_bytes(evidence_db_master.read_bytes())
    return target


@pytest.fixture(params=["light", "dark"])
def scheme(request, qapp):
    """The application in the light or the dark scheme (offscreen has no dark palette of its
    own: the app's is used); the platform's palette back afterwards."""
    assert Theme.of(qapp) is None
    theme = apply_theme(qapp, request.param)
    assert theme.dark == (request.param == "dark") == colours().dark
    yield request.param
    theme.remove()
    assert Theme.of(qapp) is None and not colours().dark


# -- the palette, the roles, the banners ---------------------------------------------------------------


PAIRS = [(P.Text, P.Base), (P.Text, P.AlternateBase), (P.WindowText, P.Window), (P.HighlightedText, P.Highlight),
         (P.ButtonText, P.Button), (P.ToolTipText, P.ToolTipBase), (P.PlaceholderText, P.Window),
         (P.PlaceholderText, P.Base), (P.Link, P.Base), (P.Link, P.Window)]


def test_the_palette_pairs_are_readable(qapp, scheme):
    pal = qapp.palette()
    dark = scheme == "dark"
    assert (pal.color(P.Window).lightnessF() < 0.5) == dark
    assert (pal.color(P.Base).lightnessF() < 0.5) == dark
    bad = [f"{fg.name}/{bg.name}: {pal.color(fg).name()} on {pal.color(bg).name()} = "
           f"{contrast(pal.color(fg), pal.color(bg)):.2f}"
           for fg, bg in PAIRS if contrast(pal.color(fg), pal.color(bg)) < MIN_CONTRAST]
    assert bad == []
    # Disabled text is dimmer than enabled text, and still there.
    disabled = pal.color(QPalette.ColorGroup.Disabled, P.Text)
    assert 1.5 < contrast(disabled, pal.color(P.Base)) < contrast(pal.color(P.Text), pal.color(P.Base))


def test_every_role_suits_its_scheme(qapp, scheme):
    c, pal = colours(), qapp.palette()
    texts = ["failure", "success", "warning", "muted", "link", "source_llm", "source_system", "source_policy"]
    grounds = [pal.color(P.Base), pal.color(P.AlternateBase), pal.color(P.Window)]
    bad = [f"{t} on {g.name()}" for t in texts for g in grounds if contrast(getattr(c, t), g) < MIN_CONTRAST]
    # Backgrounds carry the palette's Text, and the text roles drawn on them.
    on = {"error_bg": ["failure", "muted"], "warning_bg": ["warning", "muted"], "success_bg": ["success"],
          "info_bg": ["link"], "changed_bg": [], "changed_cell_bg": [], "left_bg": [], "right_bg": [],
          "absent_bg": ["muted"], "header_bg": []}
    for bg, fgs in on.items():
        for fg in [pal.color(P.Text), pal.color(P.WindowText), *(getattr(c, f) for f in fgs)]:
            if contrast(fg, getattr(c, bg)) < MIN_CONTRAST:
                bad.append(f"{fg.name()} on {bg}")
    for marker in ("marker_equal", "marker_rule", "marker_changed", "marker_left", "marker_right"):
        if contrast(c.marker_text, getattr(c, marker)) < MIN_CONTRAST:
            bad.append(f"marker_text on {marker}")
    assert bad == []


def test_grades_and_badges_are_readable(qapp, scheme):
    pal = qapp.palette()
    for grade in IntegrityGrade:
        fg, tint = grade_colours(grade)
        for bg in (tint, pal.color(P.Base), pal.color(P.AlternateBase), pal.color(P.Window)):
            assert contrast(fg, bg) >= MIN_CONTRAST, (grade, fg.name(), bg.name())
    for grade in (*IntegrityGrade, None):
        bg, fg = badge_colours(grade)
        assert contrast(fg, bg) >= MIN_CONTRAST, (grade, fg, bg)


def test_every_banner_is_readable(qapp, scheme):
    """A banner's own text colour, and the palette's WindowText (a frame's labels draw in it),
    stand out from its background; text-only styles from the window."""
    pal = qapp.palette()
    bad = []
    for severity in SEVERITIES:
        bg, fg = severity_colours(severity)
        ground = QColor(bg) if bg else pal.color(P.Window)
        for text in ([QColor(fg)] if fg else []) + ([pal.color(P.WindowText)] if bg else []):
            if contrast(text, ground) < MIN_CONTRAST:
                bad.append(f"{severity}: {text.name()} on {ground.name()} = {contrast(text, ground):.2f}")
        assert bg or fg, severity
    assert bad == []
    # An invalid field: the palette's Text on the scheme's error tint.
    assert contrast(pal.color(P.Text), colours().error_bg) >= MIN_CONTRAST


def test_roles_differ_so_rich_text_can_change_scheme():
    """No two roles share a colour, in either scheme: a label's rich text is moved from one
    scheme to the other by its colours."""
    owner: dict[str, str] = {}
    for name, (light, dark) in ROLES.items():
        for value in {light.lower(), dark.lower()}:
            assert owner.setdefault(value, name) == name, f"{value} is both {owner[value]} and {name}"


def test_rich_text_changes_scheme_but_user_text_does_not():
    from ui.qt.theme import _DARK, _LIGHT

    user = html.escape("style='color:#6b6b6b' #6b6b6b")
    text = f"<span style='color:{_LIGHT.css('muted')}'>{user}</span> <b style=\"color:{_LIGHT.css('failure')}\">x</b>"
    moved = _retint(text, _LIGHT, _DARK)
    assert moved == (f"<span style='color:{_DARK.css('muted')}'>{user}</span> "
                     f"<b style=\"color:{_DARK.css('failure')}\">x</b>")
    assert _retint(moved, _DARK, _LIGHT) == text


# -- the main window, the compare and replay check windows, the logs ------------------------------


def show_docks(window) -> None:
    for dock in (window.evidence_dock, window.consistency_dock, window.logs_dock):
        dock.show()


def test_every_cell_of_the_main_window_is_readable(qtbot, make_window, scheme, small_db, evidence_db):
    w = make_window()
    w.resize(1280, 800)
    w.show()
    show_docks(w)
    open_and_wait(qtbot, w, small_db)
    bad: list[str] = []
    seen: set[str] = set()
    for run_id in (BROKEN_RUN, BIG_RUN, ORPHAN_RUN):
        select_run(qtbot, w, run_id)
        step = w.steps_model.step_index_at(1)
        if step is not None:
            w.steps_view.select_step(step)
        idle(qtbot, w)
        bad += views_problems(w, seen=seen) + label_problems(w)
    open_graded(qtbot, w, evidence_db)
    for run_id in (FAIL_RUN, WARN_RUN):
        panel = show_evidence(qtbot, w, run_id)
        qtbot.waitUntil(lambda: not w.runs_model.findings.pending, timeout=WAIT)
        idle(qtbot, w)
        bad += views_problems(w, seen=seen) + label_problems(w) + reason_problems(panel)
    assert panel.reasons_model.rowCount() > 0
    assert met(seen, "failure", "success", "warning", "muted") == set()
    assert bad == [], "\n".join(sorted(set(bad))[:40])


def _replay_db(path):
    """``orig`` and its replay ``rep`` whose steps skip, check (unverified, equal, mismatching)
    and go on after upstream's stop (behaviours and keys set as AOS v1.1 stores them)."""
    original = [("execute", "k0", {"v": 0}), ("execute", "k1", {"v": 1}), ("execute", None, {"v": 2}),
                ("execute", "k3", {"v": 3}), ("execute", None, {"v": 4}), ("execute", "k5", {"v": 5})]
    replay = [("skip", "k0", {"v": 0}), ("check", "k1", {"v": 1, "x": 1}), ("check", None, {"v": 2}),
              ("check", "kx", {"v": 33}), ("skip", None, {"v": 4}), ("bogus", "k5", {"v": 5})]
    return write_sqlite_pair(path, original, replay)


def test_every_cell_of_the_compare_and_replay_check_windows_is_readable(qtbot, scheme, tmp_path, make_session,
                                                                         redis_settings):
    from ui.qt.app import new_session
    from ui.qt.windows.compare import open_compare
    from ui.qt.windows.replay_check import ReplayCheckView

    pair = tmp_path / "pair.db"
    with SQLiteTraceWriter(pair) as w:
        write_run(w, "orig", [{"v": 0}, {"v": 1, "request_id": "a"}, {"v": 2}, {"v": 3}, {"v": 4}])
        # equal, equal by the rule, changed (and failed), only left, equal, only right
        write_run(w, "rep", [{"v": 0}, {"v": 1, "request_id": "b"}, {"v": 22}, {"v": 4}, {"v": 5}],
                  indexes=[0, 1, 2, 4, 5], statuses={2: "failure"}, metadata={"replay_of": "orig"})
    compare = open_compare(None, new_session, (str(pair), "rep"), rules=["/outcome_data/request_id"], show=False)
    qtbot.addWidget(compare)
    try:
        compare.show()
        qtbot.waitUntil(lambda: compare.state in ("shown", "error"), timeout=WAIT)
        assert compare.state == "shown"
        kinds = {compare.model.data(compare.model.index(r, 6)) for r in range(compare.model.rowCount())}
        assert kinds == {"=", "≈", "≠", "−", "+"}
        compare.jump_to_first_divergence()
        seen: set[str] = set()
        bad = views_problems(compare, seen=seen) + label_problems(compare)
        assert met(seen, "marker_equal", "marker_rule", "marker_changed", "marker_left", "marker_right",
                   "marker_text", "changed_bg", "changed_cell_bg", "left_bg", "right_bg", "absent_bg",
                   "muted") == set()
        # The detail pane: its changed cells and headers carry the palette's Text.
        detail = compare.detail.toHtml()
        assert colours().css("changed_cell_bg") in detail.lower() and colours().css("header_bg") in detail.lower()
    finally:
        compare.shutdown()

    session = make_session(open_source(str(_replay_db(tmp_path / "replay.db"))), owned=True)
    check = ReplayCheckView(session, "rep", redis=redis_settings)
    qtbot.addWidget(check)
    check.show()
    check.start()
    qtbot.waitUntil(lambda: check.state in ("done", "error"), timeout=WAIT)
    assert check.state == "done"
    outcomes = [s.outcome.name for s in check.model.records]
    assert outcomes == ["SKIPPED", "CHECKED_UNVERIFIED", "CHECKED", "MISMATCH", "EXECUTED", "INVALID"], outcomes
    assert any(s.after_stop for s in check.model.records)
    seen = set()
    bad += views_problems(check, seen=seen) + label_problems(check)
    assert met(seen, "error_bg", "warning_bg", "failure", "warning", "success", "muted") == set()
    bg, fg = severity_colours(check.verdict.property("severity"))
    assert contrast(fg, bg) >= MIN_CONTRAST
    check.shutdown()
    assert bad == [], "\n".join(sorted(set(bad))[:40])


def test_every_cell_of_the_logs_and_idempotency_views_is_readable(qtbot, scheme, pg_url, make_session,
                                                                    redis_settings, redis_url):
    import sqlalchemy as sa

    from drivers.pg_logs import PostgresLogsReader
    from inspector.hashing import hash_request
    from tests.pgutil import sa_url
    from tests.ui.logs_dbs import CORR, MODIFIED_EVENT, RUN, TENANT, TRACE, fill_logs
    from tests.ui.replay_dbs import insert_run, new_tenant, redis_client
    from ui.qt.panels.logs import RunLogsPanel
    from ui.qt.windows.idempotency import IdempotencyView

    engine = sa.create_engine(sa_url(pg_url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            fill_logs(conn)
        source = open_source(pg_url)
        session = make_session(source, logs=PostgresLogsReader(engine, pg_url), owned=True)
        panel = RunLogsPanel(session)
        qtbot.addWidget(panel)
        panel.show()
        with qtbot.waitSignal(panel.loaded, timeout=WAIT):
            panel.show_run(RUN, TRACE, TENANT, CORR)
        model = panel.audit.model
        panel.audit.view.selectRow([e.id for e in model.records].index(MODIFIED_EVENT))
        assert panel.audit_detail.diff_model.rowCount() > 0
        seen: set[str] = set()
        bad = views_problems(panel, seen=seen) + label_problems(panel)
        assert met(seen, "error_bg", "failure", "warning", "source_llm", "source_system", "source_policy") == set()
    finally:
        engine.dispose()

    tenant = new_tenant()
    insert_run(pg_url, "idem-run", tenant, [("execute", "a", {}, {"q": 1}), ("execute", "b", {}, {"q": 2}),
                                             ("execute", "c", {}, {"q": 3}), ("execute", "d", {}, {"q": 4})])
    with redis_client(redis_url, tenant) as client:
        client.hset(f"idem:{tenant}:a", mapping={"hash": hash_request({"q": 1}), "tenant_id": tenant,
                                                 "trace_id": "trace_idem-run", "status": "completed"})
        client.hset(f"idem:{tenant}:b", mapping={"hash": hash_request({"q": "other"}), "tenant_id": tenant,
                                                 "trace_id": "trace_other", "status": "failed", "error": "boom"})
        client.hset(f"idem:{tenant}:d", mapping={"hash": hash_request({"q": 4}), "status": "pending"})
        redis_settings.set_url(redis_url)
        view = IdempotencyView(make_session(open_source(pg_url), owned=True), "idem-run", redis=redis_settings)
        qtbot.addWidget(view)
        view.show()
        view.start()
        qtbot.waitUntil(lambda: view.state == "done", timeout=WAIT)
        assert len({r.verdict for r in view.model.records}) == 3
        seen = set()
        bad += views_problems(view, seen=seen) + label_problems(view)
        assert met(seen, "error_bg", "failure", "success", "muted", "warning") == set()
        view.shutdown()
    assert bad == [], "\n".join(sorted(set(bad))[:40])


# -- following the system, choosing a scheme ----------------------------------------------------------


def test_the_systems_scheme_is_followed_live(qtbot, qapp, make_window, evidence_db):
    system = {"scheme": Qt.ColorScheme.Light}
    assert Theme.of(qapp) is None
    theme = Theme(qapp, "system", system_scheme=lambda: system["scheme"])
    theme.apply()
    try:
        changes = []
        theme.changed.connect(changes.append)
        w = make_window()
        w.show()
        open_graded(qtbot, w, evidence_db)
        panel = show_evidence(qtbot, w, WARN_RUN)  # upstream's stored verdict differs: a banner says so
        w.filters.search.setText("x")
        set_invalid(w.filters.search, True)
        light = colours()
        banner = panel.stored_banner
        assert not theme.dark and banner.property("severity")
        light_sheet = banner.styleSheet()
        light_classes = panel.classes_line.text()
        assert light.css("muted") in light_classes and light.css("success") in light_classes
        findings_cells = [w.runs_model.index(r, 3) for r in range(w.runs_model.rowCount())]
        light_findings = {ix.data(Qt.ItemDataRole.ForegroundRole).name() for ix in findings_cells
                          if ix.data(Qt.ItemDataRole.ForegroundRole) is not None}
        assert light_findings and light_findings <= {light.css(n) for n in ROLES}

        system["scheme"] = Qt.ColorScheme.Dark
        qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
        qapp.processEvents()
        dark = colours()
        assert theme.dark and dark.dark and changes == [True]
        assert qapp.palette().color(P.Window).lightnessF() < 0.5
        assert w.palette().color(P.Base) == qapp.palette().color(P.Base)
        # The models answer in the new colours; the banners' and fields' style sheets and the
        # labels' rich text were made again; nothing light is left in them.
        dark_findings = {ix.data(Qt.ItemDataRole.ForegroundRole).name() for ix in findings_cells
                         if ix.data(Qt.ItemDataRole.ForegroundRole) is not None}
        assert dark_findings and dark_findings <= {dark.css(n) for n in ROLES}
        assert banner.styleSheet() != light_sheet
        assert dark.css("info_bg") in banner.styleSheet() or dark.css("warning_bg") in banner.styleSheet()
        assert dark.css("error_bg") in w.filters.search.styleSheet()
        assert dark.css("muted") in panel.classes_line.text() and dark.css("success") in panel.classes_line.text()
        light_only = {light.css(n) for n in ROLES} - {dark.css(n) for n in ROLES}
        for label in w.findChildren(QLabel):
            assert not any(h in label.text() for h in light_only), (label.objectName(), label.text())
        assert label_problems(w) == [] and views_problems(w) == [] and reason_problems(panel) == []

        system["scheme"] = Qt.ColorScheme.Light
        qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert not theme.dark and changes == [True, False]
        assert banner.styleSheet() == light_sheet and panel.classes_line.text() == light_classes
    finally:
        theme.remove()


def test_the_environment_forces_a_scheme_over_the_saved_one(monkeypatch, qapp):
    monkeypatch.delenv(SCHEME_ENV, raising=False)
    assert scheme_choice(None) == "system" and scheme_choice("dark") == "dark" and scheme_choice("bogus") == "system"
    monkeypatch.setenv(SCHEME_ENV, "Dark")
    assert scheme_choice("light") == "dark"
    theme = apply_theme(qapp)
    try:
        assert theme.choice == "dark" and theme.dark and qapp.palette().color(P.Base).lightnessF() < 0.5
    finally:
        theme.remove()


def test_the_view_menu_chooses_and_keeps_a_scheme(qtbot, qapp, make_window, settings, monkeypatch):
    monkeypatch.delenv(SCHEME_ENV, raising=False)
    w = make_window()
    actions = w.actions_by_name
    assert actions["scheme_system"].isChecked() and not actions["scheme_dark"].isChecked()
    try:
        actions["scheme_dark"].trigger()
        qapp.processEvents()  # the palette reaches the widgets by event
        theme = Theme.of(qapp)
        assert theme is not None and theme.dark and actions["scheme_dark"].isChecked()
        assert settings.value(SCHEME_SETTING) == "dark"
        assert w.palette().color(P.Window).lightnessF() < 0.5
        actions["scheme_light"].trigger()
        qapp.processEvents()
        assert not theme.dark and settings.value(SCHEME_SETTING) == "light"
        assert w.palette().color(P.Window).lightnessF() > 0.5
        # The next window starts with the choice it finds in the settings.
        assert scheme_choice(QSettings(settings.fileName(), QSettings.Format.IniFormat).value(SCHEME_SETTING)) == "light"
    finally:
        theme = Theme.of(qapp)
        if theme is not None:
            theme.remove()
