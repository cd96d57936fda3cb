"""``trace-inspector check-panel`` on upstream's panel response."""

from __future__ import annotations

import io
import json

from ui.cli import main


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def test_check_panel_reports_upstreams_violation(fixtures_dir):
    panel = str(fixtures_dir / "panel_response_example.json")
    code, text = cli("check-panel", panel)
    assert code == 1 and "CONS-002 at_risk_system_state_consistency [O1]" in text
    assert "actual:   at_risk_runs=2, system_state=ACTIVE" in text
    code, text = cli("check-panel", panel, "--json", "--upstream")
    doc = json.loads(text)
    assert code == 1 and doc["panel_id"] == "OVR-SUM-HL" and doc["is_consistent"] is False
    assert [v["rule_id"] for v in doc["violations"]] == ["CONS-002"]


def test_check_panel_with_a_rule_file(fixtures_dir, tmp_path, capsys):
    panel = str(fixtures_dir / "panel_response_example.json")
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\nid = "MY-1"\nname = "runs add up"\ndescription = "active <= 100"\n'
                     'signal_a = "active_runs"\nsignal_b = "completed_runs_in_window"\n'
                     'condition = "signal_a <= 100 and signal_b >= 0"\n')
    code, text = cli("check-panel", panel, "--rules", str(rules), "--json")
    assert code == 0 and json.loads(text)["is_consistent"] is True  # custom rules replace the defaults
    rules.write_text('[[rules]]\nid = "MY-2"\nsignal_a = "a"\nsignal_b = "b"\ncondition = "signal_a <"\n')
    code, _ = cli("check-panel", panel, "--rules", str(rules))
    err = capsys.readouterr().err
    assert code == 2 and "rules.toml:5:" in err and "rule MY-2: expected a value" in err


def test_check_panel_bad_input_is_one_line(tmp_path, capsys):
    (tmp_path / "p.json").write_text("{nope")
    assert cli("check-panel", str(tmp_path / "p.json"))[0] == 2
    assert "p.json:1:2: not valid JSON" in capsys.readouterr().err
    (tmp_path / "q.json").write_text("[]")
    assert cli("check-panel", str(tmp_path / "q.json"))[0] == 2
    assert "a panel response is a JSON object" in capsys.readouterr().err
    assert cli("check-panel", str(tmp_path))[0] == 2
    assert "is a folder" in capsys.readouterr().err
