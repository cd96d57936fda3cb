"""Builds the standalone app folder dist/trace-inspector/ with PyInstaller
(packaging/trace-inspector.spec) and checks that what it built works: the CLI, bundles, Postgres,
Redis, diff's worker processes, every module's import, the desktop entry's installer, and the
window, which must open on the demo database under Xvfb and paint. Prints the build time, the
folder's size, the compressed size (dist/trace-inspector-VERSION-linux-ARCH.tar.gz, also written)
and the time from start to the window's screenshot. Exits 1 when a check fails. `make package`.

    python packaging/build.py [--skip-build]

Run it with the Python the app is installed in (with PyInstaller). Postgres and Redis are the
servers TRACE_INSPECTOR_PG_URL / TRACE_INSPECTOR_REDIS_URL name, else throwaway ones started with
.ci/services.sh when their programs are installed; without either, those checks are skipped (and
said so)."""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "trace-inspector.spec"
DIST = ROOT / "dist"
APP = DIST / "trace-inspector"
EXE = APP / "trace-inspector"
WORK = ROOT / "build" / "pyinstaller"
SCREEN = (1280, 800)
#: Under Xvfb the window must be painted in this long (it takes seconds; a hang must not stall make).
GUI_TIMEOUT_S = 180


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []
        self.passed = 0
        self.skipped: list[str] = []

    def ok(self, name: str, detail: str = "") -> None:
        self.passed += 1
        print(f"  ok    {name}" + (f": {detail}" if detail else ""), flush=True)

    def fail(self, name: str, why: str) -> None:
        self.failed.append(name)
        print(f"  FAIL  {name}: {why}", flush=True)

    def skip(self, name: str, why: str) -> None:
        self.skipped.append(name)
        print(f"  skip  {name}: {why}", flush=True)

    def expect(self, name: str, condition: bool, detail: str, why: str) -> bool:
        if condition:
            self.ok(name, detail)
        else:
            self.fail(name, why)
        return condition


def human(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


def folder_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir())


def version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def build() -> tuple[float, float]:
    """Builds the folder; its wall-clock and CPU seconds (on a busy machine they differ)."""
    if shutil.which("objdump") is None:
        raise SystemExit("build.py: PyInstaller needs objdump (Debian: apt-get install binutils)")
    started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(DIST), "--workpath", str(WORK), str(SPEC)], check=True, cwd=ROOT)
    shutil.copy2(ROOT / "packaging" / "install-desktop.sh", APP / "install-desktop.sh")
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - started, done.ru_utime + done.ru_stime - cpu.ru_utime - cpu.ru_stime


def compress() -> tuple[Path, float]:
    tarball = DIST / f"trace-inspector-{version()}-linux-{platform.machine()}.tar.gz"
    started = time.perf_counter()
    subprocess.run(["tar", "-czf", str(tarball), "-C", str(DIST), APP.name], check=True)
    return tarball, time.perf_counter() - started


def run(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *args], env=env, capture_output=True, text=True, timeout=timeout)


def said(proc: subprocess.CompletedProcess) -> str:
    """A failed command's exit status and last words, for the report."""
    tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
    return f"exit {proc.returncode}: " + " | ".join(tail)


# --- Postgres and Redis ------------------------------------------------------------------------

def start_services(tmp: Path, env: dict[str, str]) -> tuple[str | None, str | None, list[str], dict[str, str]]:
    """The Postgres and Redis URLs to check against (None: none here) and the stop commands of
    those started here."""
    pg, redis = env.get("TRACE_INSPECTOR_PG_URL"), env.get("TRACE_INSPECTOR_REDIS_URL")
    reasons = {}
    start = []
    if not pg:
        if list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
            start.append('start_postgres "$1" >&2')
        else:
            reasons["postgres"] = "TRACE_INSPECTOR_PG_URL is not set and no Postgres server is installed"
    if not redis:
        if shutil.which("redis-server"):
            start.append("start_redis >&2")
        else:
            reasons["redis"] = "TRACE_INSPECTOR_REDIS_URL is not set and no redis-server is installed"
    stops: list[str] = []
    if start:
        folder = tmp / "pg"
        folder.mkdir()
        tmp.chmod(0o755)  # the postgres user reads its data folder through it
        script = ("source .ci/services.sh; STOPS=(); " + " && ".join(start)
                  + ' && printf "%s\\n" "${TRACE_INSPECTOR_PG_URL:-}" "${TRACE_INSPECTOR_REDIS_URL:-}" "${STOPS[@]}"')
        proc = subprocess.run(["bash", "-c", script, "_", str(folder)], cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"build.py: could not start Postgres/Redis: {proc.stderr.strip()}")
        lines = proc.stdout.splitlines()
        pg, redis, stops = pg or lines[0] or None, redis or lines[1] or None, lines[2:]
    return pg, redis, stops, reasons


def stop_services(stops: list[str]) -> None:
    for stop in stops:
        subprocess.run(["bash", "-c", 'source .ci/services.sh; eval "$1"', "_", stop], cwd=ROOT, check=False)


def scratch_database(url: str, name: str, *, drop: bool = False) -> str:
    """A database of its own on the server (the check fills it with the demo), dropped after."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlsplit(url)._replace(path=f"/{name}").geturl()


# --- the checks --------------------------------------------------------------------------------

def check_cli(checks: Checks, env: dict[str, str], tmp: Path) -> tuple[Path | None, dict[str, str]]:
    """--version, the demo database, runs, the import check, diff in worker processes, and a
    signed bundle written and verified. Returns the demo database and run ids found in it."""
    proc = run(["--version"], env)
    want = f"trace-inspector {version()} "
    checks.expect("--version", proc.returncode == 0 and proc.stdout.startswith(want), proc.stdout.strip(),
                  f"expected {want!r}…, got {said(proc)}")

    proc = subprocess.run([str(EXE)], env={**env, "TRACE_INSPECTOR_CHECK_IMPORTS": "1"}, capture_output=True,
                          text=True, timeout=300)
    last = proc.stdout.strip().splitlines()[-1:] or [""]
    checks.expect("every module imports", proc.returncode == 0, last[0], said(proc))

    db = tmp / "demo.db"
    proc = run(["demo", "--out", str(db), "--force"], env)
    big = re.search(r"largest run (run_\w+)", proc.stdout)
    if not checks.expect("demo", proc.returncode == 0 and db.is_file() and big is not None,
                         proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "", said(proc)):
        return None, {}
    ids = {"big": big.group(1)}

    proc = run(["runs", str(db)], env)
    rows = [line for line in proc.stdout.splitlines() if line.startswith("run_")]
    replay = next((line.split()[0] for line in rows if "(replay)" in line), None)
    plain = next((line.split()[0] for line in rows if "(replay)" not in line and " completed " in line), None)
    checks.expect("runs", proc.returncode == 0 and len(rows) >= 100 and bool(replay and plain),
                  f"{len(rows)} runs listed", f"{len(rows)} runs, {said(proc)}")
    ids.update(replay=replay or "", plain=plain or "")

    # Over 50,000 steps diff hashes both sides in two worker processes ("spawn"): in the frozen app
    # they start this executable again (multiprocessing.freeze_support in the launcher).
    proc = run(["diff", str(db), ids["big"], ids["big"]], env)
    workers = "" if (os.cpu_count() or 1) >= 2 else " (one CPU: hashed inline, no workers)"
    checks.expect("diff in worker processes", proc.returncode == 0 and "Parity holds" in proc.stdout,
                  f"{ids['big']} against itself{workers}", said(proc))

    key, bundle = tmp / "signing.key", tmp / "bundle.zip"
    proc = run(["keygen", "-o", str(key)], env)
    if checks.expect("keygen", proc.returncode == 0 and Path(f"{key}.pub").is_file(), "Ed25519", said(proc)):
        proc = run(["export", str(db), ids["plain"], "-o", str(bundle), "--key", str(key)], env)
        names = zipfile.ZipFile(bundle).namelist() if bundle.is_file() else []
        pdf = next((n for n in names if n.endswith(".pdf")), None)
        checks.expect("export bundle", proc.returncode == 0 and pdf is not None,
                      f"{len(names)} files, {pdf}", said(proc))
        proc = run(["verify", str(bundle), "--trust", f"{key}.pub"], env)
        checks.expect("verify bundle", proc.returncode == 0, "signature, hashes, custody log", said(proc))
    return db, ids


def check_services(checks: Checks, env: dict[str, str], db: Path, ids: dict[str, str], pg: str | None,
                   redis: str | None, reasons: dict[str, str]) -> None:
    if pg:
        name = f"trace_inspector_package_{os.getpid()}"
        try:
            url = scratch_database(pg, name)
        except Exception as exc:  # noqa: BLE001 - the server named is unusable: a failed check
            checks.fail("postgres", f"cannot create a scratch database: {exc}")
            pg = None
    if pg:
        try:
            proc = run(["demo", "--postgres", url, "--big-run-steps", "500"], env)
            if checks.expect("postgres: demo", proc.returncode == 0, "psycopg, SQLAlchemy (async too)", said(proc)):
                proc = run(["runs", url, "--limit", "20"], env)
                rows = [line for line in proc.stdout.splitlines() if line.startswith("run_")]
                checks.expect("postgres: runs", proc.returncode == 0 and len(rows) == 20, f"{len(rows)} runs",
                              said(proc))
                proc = run(["audit", url, "--limit", "5"], env)
                checks.expect("postgres: audit", proc.returncode == 0 and proc.stdout.strip() != "",
                              "audit ledger", said(proc))
        finally:
            scratch_database(pg, name, drop=True)
    elif "postgres" in reasons:
        checks.skip("postgres", reasons["postgres"])
    if redis:
        proc = run(["replay-check", str(db), ids["replay"], "--redis", redis], env)
        # Its header names the cache used: "redis", or "memory" after a fallback
        checks.expect("redis: replay-check", proc.returncode == 0 and "cache: redis)" in proc.stdout,
                      f"{ids['replay']} with the cache in Redis", said(proc))
    else:
        checks.skip("redis", reasons["redis"])


def check_desktop_entry(checks: Checks, env: dict[str, str], tmp: Path) -> None:
    data = tmp / "share"
    local = {**env, "XDG_DATA_HOME": str(data)}
    proc = subprocess.run([str(APP / "install-desktop.sh")], env=local, capture_output=True, text=True)
    entry = data / "applications" / "aos-trace-inspector.desktop"
    icons = [data / "icons" / "hicolor" / f"{s}x{s}" / "apps" / "aos-trace-inspector.png" for s in (48, 128, 256)]
    text = entry.read_text(encoding="utf-8") if entry.is_file() else ""
    checks.expect("install-desktop.sh", proc.returncode == 0 and f'Exec="{EXE}" %f' in text
                  and all(p.is_file() for p in icons), f"Exec={EXE} %f, 3 icon sizes + SVG",
                  f"{said(proc)}; entry: {text[:200]!r}")
    if shutil.which("desktop-file-validate") and text:
        proc = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        checks.expect("desktop-file-validate", proc.returncode == 0 and not proc.stdout.strip(), "valid",
                      proc.stdout.strip() or proc.stderr.strip())
    proc = subprocess.run([str(APP / "install-desktop.sh"), "--remove"], env=local, capture_output=True, text=True)
    checks.expect("install-desktop.sh --remove", proc.returncode == 0 and not entry.exists()
                  and not any(p.exists() for p in icons), "removed", said(proc))


def distinct_colours(png: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct colours of a PNG (every second pixel), read with
    the Qt this Python has."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    if image.isNull():
        return 0, 0, 0
    colours = {image.pixel(x, y) for y in range(0, image.height(), 2) for x in range(0, image.width(), 2)}
    return image.width(), image.height(), len(colours)


def check_window(checks: Checks, env: dict[str, str], db: Path, tmp: Path) -> float | None:
    if shutil.which("xvfb-run") is None:
        checks.fail("window", "xvfb-run is missing (Debian: apt-get install xvfb xauth)")
        return None
    png = tmp / "window.png"
    gui = {k: v for k, v in env.items() if k != "QT_QPA_PLATFORM"}  # a real X window (xcb)
    gui["TRACE_INSPECTOR_SCREENSHOT"] = str(png)
    width, height = SCREEN
    cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {width}x{height}x24", str(EXE), str(db)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=gui, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    painted = None
    while proc.poll() is None and time.perf_counter() - started < GUI_TIMEOUT_S:
        if painted is None and png.is_file() and png.stat().st_size > 0:
            painted = time.perf_counter() - started
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        checks.fail("window", f"still running after {GUI_TIMEOUT_S} s")
        return None
    out = proc.stdout.read() if proc.stdout else ""
    if painted is None and png.is_file():
        painted = time.perf_counter() - started
    if not checks.expect("window opens and quits", proc.returncode == 0 and png.is_file(),
                         f"{shlex.join(cmd[4:])}", f"exit {proc.returncode}: {out.strip()[-400:]}"):
        return None
    errors = [line for line in out.splitlines() if re.search(r"Traceback|Error|No module named", line)]
    checks.expect("window: nothing on stderr", not errors, "no errors printed", " | ".join(errors[:3]))
    log = Path(env["XDG_STATE_HOME"]) / "aos-trace-inspector" / "log" / "inspector.log"
    lines = log.read_text(encoding="utf-8").splitlines() if log.is_file() else []
    bad = [line for line in lines if re.search(r" (WARNING|ERROR|CRITICAL) ", line)]
    checks.expect("window: its log", lines and not bad, f"{len(lines)} lines, no warnings",
                  " | ".join(bad[:3]) or f"{log} is missing or empty")
    w, h, colours = distinct_colours(png)
    checks.expect("window: screenshot", 800 <= w <= width and 500 <= h <= height and colours >= 64,
                  f"{w}x{h}, {colours} colours", f"{w}x{h} with {colours} colours")
    shutil.copy2(png, DIST / "trace-inspector-window.png")
    return painted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-build", action="store_true", help="check the folder already built")
    args = parser.parse_args()

    built = None
    if not args.skip_build:
        print(f"Building {APP.relative_to(ROOT)} with PyInstaller …", flush=True)
        load = os.getloadavg()[0]
        built = build()
    if not EXE.is_file():
        raise SystemExit(f"build.py: {EXE} is missing: build it first (make package)")
    size = folder_size(APP)
    tarball, _tar_s = compress()

    checks = Checks()
    stops: list[str] = []
    with tempfile.TemporaryDirectory(prefix="trace-inspector-package-") as name:
        tmp = Path(name)
        home = tmp / "home"
        runtime = tmp / "runtime"
        runtime.mkdir(mode=0o700)
        # The user's settings, demo, keys, caches and logs stay out of it: all in a throwaway home.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "XDG_", "TRACE_INSPECTOR_SCREEN"))}
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
                   XDG_CACHE_HOME=str(home / "cache"), XDG_STATE_HOME=str(home / "state"),
                   XDG_RUNTIME_DIR=str(runtime), QT_QPA_PLATFORM="offscreen")
        print(f"Checking {EXE.relative_to(ROOT)}:", flush=True)
        try:
            db, ids = check_cli(checks, env, tmp)
            check_desktop_entry(checks, env, tmp)
            painted = None
            if db is not None:
                pg, redis, stops, reasons = start_services(tmp, {**os.environ})
                check_services(checks, env, db, ids, pg, redis, reasons)
                painted = check_window(checks, env, db, tmp)
        finally:
            stop_services(stops)

    print()
    if built is not None:
        print(f"build time:          {built[0]:.0f} s ({built[1]:.0f} s of CPU; load average {load:.1f} "
              f"on {os.cpu_count()} CPUs at the start)")
    print(f"folder size:         {human(size)} ({APP.relative_to(ROOT)})")
    print(f"compressed size:     {human(tarball.stat().st_size)} ({tarball.relative_to(ROOT)})")
    if painted is not None:
        print(f"start to screenshot: {painted:.1f} s (the demo database, Xvfb)")
    summary = f"{checks.passed} passed, {len(checks.failed)} failed"
    if checks.skipped:
        summary += f", {len(checks.skipped)} skipped ({', '.join(checks.skipped)})"
    print(summary)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
