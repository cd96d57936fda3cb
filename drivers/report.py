"""The bundle's ``report.pdf`` (reportlab, as upstream renders its bundle PDFs, §8.3: US letter,
0.75" margins): a cover, each run's summary, its step timeline, its evidence and integrity grade
with reasons, and the facts to verify the bundle by. Rendered with reportlab's invariant mode, so
the same input gives the same bytes (the bundle is byte-reproducible)."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from inspector.model import stored_float
from inspector.services.export import ReportInput
from inspector.units import fmt_cost, fmt_duration

__all__ = ["render_report", "TIMELINE_ROWS"]

#: Steps shown per run in the timeline table (the bundle holds them all).
TIMELINE_ROWS = 200
_GRADE_COLOURS = {"PASS": "#1b7f3b", "WARN": "#a86400", "FAIL": "#b3261e"}


def _text(value: Any, width: int = 0) -> str:
    s = "—" if value is None or value == "" else str(value)
    s = s.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate cannot be drawn
    if width and len(s) > width:
        s = s[: width - 1] + "…"
    return escape(s)


def _money(cents: Any) -> str:
    """Cents as the window and the CLI show them (``inspector.units.fmt_cost``); a dash for what
    is not a number."""
    c = stored_float(cents)
    return "—" if c is None else fmt_cost(c)


def _time(value: Any) -> str:
    s = str(value or "—")
    return s[:-6] + "Z" if s.endswith("+00:00") else s


def _score(value: Any) -> str:
    try:
        return f"{float(value):.3f}"
    except (TypeError, ValueError, OverflowError):
        return "—"


def _ms(value: Any) -> str:
    """A duration as the window and the CLI show it (``inspector.units.fmt_duration``)."""
    v = stored_float(value)
    return "—" if v is None else fmt_duration(v)


def render_report(data: ReportInput) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    m = data.manifest
    styles = getSampleStyleSheet()
    small = ParagraphStyle("small", parent=styles["BodyText"], fontSize=8, leading=10)
    mono = ParagraphStyle("mono", parent=small, fontName="Courier", fontSize=7.5, leading=9)
    body = styles["BodyText"]
    h1, h2 = styles["Title"], styles["Heading2"]
    story: list[Any] = []

    def kv_table(rows: list[tuple[str, str]]) -> Table:
        t = Table([[Paragraph(f"<b>{escape(k)}</b>", small), Paragraph(v, small)] for k, v in rows],
                  colWidths=[1.8 * inch, 5.2 * inch])
        t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey)]))
        return t

    kind = {"evidence": "Evidence bundle", "soc2": "SOC2 evidence bundle",
            "executive": "Executive debrief bundle"}.get(str(m.get("kind")), "Export bundle")
    story.append(Paragraph(f"AOS Trace Inspector — {kind}", h1))
    completeness = m.get("completeness") or {}
    runs_c = completeness.get("runs") or {}
    steps_c = completeness.get("steps") or {}
    signer = m.get("signer") or {}
    redaction = m.get("redaction") or {}
    source = m.get("source") or {}
    story.append(kv_table([
        ("Exported at", _text(m.get("exported_at"))),
        ("Exported by", _text(m.get("exported_by"))),
        ("Reason", _text(m.get("export_reason"))),
        ("Source", _text(source.get("location")) + f" ({_text(source.get('kind'))})"),
        ("Runs", f"{runs_c.get('found', 0)} exported of {runs_c.get('asked', 0)} asked for"
                 + (f"; missing: {_text(', '.join(runs_c.get('missing_ids') or []), 200)}" if runs_c.get("missing") else "")),
        ("Steps", f"{steps_c.get('found', 0):,} of {steps_c.get('asked', 0):,}"),
        ("Redaction", ("applied: " + _text(", ".join(redaction.get("rules") or []))) if redaction.get("applied")
         else "<b>not applied</b>: payloads are as stored"),
        ("Producer", _text(f"{(m.get('producer') or {}).get('name')} {(m.get('producer') or {}).get('version')}, "
                           f"bundle format {m.get('format_version')}")),
    ]))
    story.append(Spacer(1, 10))
    story.append(Paragraph("How to verify this report's bundle", h2))
    story.append(Paragraph(
        "The bundle's <font face='Courier'>manifest.json</font> lists every file with its SHA-256 and is signed "
        "(Ed25519, <font face='Courier'>manifest.sig</font>). Run <font face='Courier'>trace-inspector verify "
        "BUNDLE.zip --trust SIGNER.pub</font>, or open the bundle in AOS Trace Inspector. The values below must "
        "equal those the verification prints.", body))
    story.append(kv_table([
        ("Signer fingerprint", f"<font face='Courier'>{_text(signer.get('fingerprint'))}</font>"),
        ("Content digest", f"<font face='Courier'>{_text(m.get('content_digest'))}</font>"),
        ("Request hash", f"<font face='Courier'>{_text(m.get('request_hash'))}</font>"),
        ("Source read digest", f"<font face='Courier'>{_text(source.get('read_digest'))}</font>"),
    ]))
    for run in data.runs:
        story.append(PageBreak())
        story.append(Paragraph(f"Run {_text(run.get('run_id'), 80)}", h2))
        story.append(kv_table([
            ("Trace", _text(run.get("trace_id"))),
            ("Tenant / agent", f"{_text(run.get('tenant_id'))} / {_text(run.get('agent_id'))}"),
            ("Status", _text(run.get("status"))),
            ("Started / completed", f"{_text(_time(run.get('started_at')))} → {_text(_time(run.get('completed_at')))}"),
            ("Steps", f"{run.get('total_steps', 0):,} ({run.get('failure_count') or 0} failed)"),
            ("Cost / duration", f"{_money(run.get('total_cost_cents'))} / {_ms(run.get('total_duration_ms'))}"),
            ("Audit events / LLM records", f"{run.get('audit_events', 0)} / {run.get('llm_records', 0)}"),
            ("AOS content hash", f"<font face='Courier'>{_text(run.get('aos_content_hash'))}</font>"),
        ]))
        grade = run.get("grade")
        story.append(Spacer(1, 8))
        story.append(Paragraph("Evidence and integrity", h2))
        if not grade:
            story.append(Paragraph("The source has no evidence store: this run was not graded.", body))
        else:
            g = str(grade.get("integrity_grade"))
            colour = _GRADE_COLOURS.get(g, "#333333")
            story.append(Paragraph(
                f"<font color='{colour}' size='14'><b>{_text(g)}</b></font> &nbsp; score "
                f"{_score(grade.get('integrity_score'))} — {_text(grade.get('explanation'), 300)}", body))
            observed = ", ".join(grade.get("observed_artifacts") or []) or "none"
            missing = ", ".join(grade.get("missing_artifacts") or []) or "none"
            story.append(Paragraph(f"Observed: {_text(observed)}. Missing: {_text(missing)}.", small))
            reasons = grade.get("reasons") or []
            if reasons:
                rows = [[Paragraph("<b>Severity</b>", small), Paragraph("<b>Code</b>", small),
                         Paragraph("<b>Reason</b>", small)]]
                for r in reasons[:40]:
                    rows.append([Paragraph(_text(r.get("severity")), small), Paragraph(_text(r.get("code")), mono),
                                 Paragraph(_text(r.get("message"), 400) + "<br/><i>" + _text(r.get("meaning"), 400)
                                           + "</i>", small)])
                t = Table(rows, colWidths=[0.7 * inch, 1.6 * inch, 4.7 * inch], repeatRows=1)
                t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                       ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eaed")),
                                       ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey)]))
                story.append(t)
        timeline = run.get("timeline") or []
        story.append(Spacer(1, 8))
        shown = f"first {len(timeline)} of {run.get('total_steps', 0):,}" if run.get("total_steps", 0) > len(timeline) \
            else f"{len(timeline)}"
        story.append(Paragraph(f"Step timeline ({shown} steps)", h2))
        if timeline:
            rows = [[Paragraph(f"<b>{h}</b>", small) for h in ("#", "Skill", "Status", "Cost", "Duration", "Time")]]
            for s in timeline[:TIMELINE_ROWS]:
                rows.append([Paragraph(_text(s.get("step_index")), small), Paragraph(_text(s.get("skill_name"), 40), small),
                             Paragraph(_text(s.get("status")), small), Paragraph(_money(s.get("cost_cents")), small),
                             Paragraph(_ms(s.get("duration_ms")), small), Paragraph(_text(_time(s.get("timestamp")), 32), mono)])
            t = Table(rows, colWidths=[0.5 * inch, 2.0 * inch, 0.8 * inch, 0.8 * inch, 0.9 * inch, 2.0 * inch],
                      repeatRows=1)
            t.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eaed")),
                                   ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f6f7f9")]),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
            story.append(t)
        else:
            story.append(Paragraph("The run has no steps.", body))

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(0.75 * inch, 0.5 * inch,
                          f"Content digest {str(m.get('content_digest'))[:32]}…  ·  signer "
                          f"{str(signer.get('fingerprint'))[:16]}…")
        canvas.drawRightString(letter[0] - 0.75 * inch, 0.5 * inch, f"page {doc.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=letter, leftMargin=0.75 * inch, rightMargin=0.75 * inch,
                            topMargin=0.75 * inch, bottomMargin=0.75 * inch, invariant=1,
                            title=f"AOS Trace Inspector {kind}", author=str(m.get("exported_by") or ""),
                            creator="AOS Trace Inspector", producer="AOS Trace Inspector")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
