"""The UI reads one source from two workers at once (pages, and background counting)."""

from __future__ import annotations

import threading

from drivers.sqlite_reader import SQLiteTraceReader
from drivers.sqlite_writer import SQLiteTraceWriter, StepInput
from inspector.model import RunFilter


def test_two_threads_read_one_source_at_once(tmp_path):
    path = tmp_path / "traces.db"
    with SQLiteTraceWriter(path) as w, w.bulk():
        for i in range(50):
            w.start_trace(f"run_{i:04d}", "c", "t", None, [])
        w.record_steps(StepInput("run_0000", j, "s", {"j": j}, "success", "SUCCESS", None, None, 1.0, 1.0)
                       for j in range(3000))
    reader = SQLiteTraceReader(path)
    errors: list[BaseException] = []
    results: dict[str, list] = {"pages": [], "counts": []}

    def pages():
        try:
            for _ in range(30):
                results["pages"].append(len(reader.list_steps("run_0000", None, 500)))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def counts():
        try:
            for _ in range(30):
                results["counts"].append(reader.aggregate_runs(["run_0000"])["run_0000"].total_steps)
                reader.count_runs(RunFilter())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=pages), threading.Thread(target=counts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    reader.close()
    assert errors == []
    assert results["pages"] == [500] * 30
    assert results["counts"] == [3000] * 30


def test_more_threads_than_pooled_connections(tmp_path):
    """Each read checks a connection out exclusively: more threads than the pool holds wait for
    one, and no thread's connection is closed under it (a per-thread pool did that, and crashed)."""
    path = tmp_path / "traces.db"
    with SQLiteTraceWriter(path) as w, w.bulk():
        for i in range(20):
            w.start_trace(f"run_{i:04d}", "c", "t", None, [])
            w.record_steps(StepInput(f"run_{i:04d}", j, "s", {}, "success", "SUCCESS", None, None, 1.0, 1.0)
                           for j in range(200))
    reader = SQLiteTraceReader(path)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for k in range(15):
                rid = f"run_{(n + k) % 20:04d}"
                assert len(reader.list_steps(rid, None, 500)) == 200
                assert reader.aggregate_runs([rid])[rid].total_steps == 200
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    reader.close()
    assert errors == []
