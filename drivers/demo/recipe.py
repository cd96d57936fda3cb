"""The demo's recipe: a few hundred AOS runs, their plans, steps and payloads, and every upstream
quirk the inspector must show, from one seed (only ``random.Random(seed)``: no global random, no
uuid4, no time). It says what to write; ``sqlite`` and ``postgres`` write it through the writers.

The payload builders (:class:`PayloadFactory`) are shared with ``benchmarks/generate_large_db.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from drivers.sqlite_writer import StepInput

__all__ = [
    "AGENTS",
    "AGENT_SKILLS",
    "BASE_TIME",
    "DEMO_RECIPE_VERSION",
    "INVALID_JSON_TEXT",
    "PERMANENT_ERRORS",
    "SKILLS",
    "TENANTS",
    "TRANSIENT_ERRORS",
    "UNICODE_SNIPPETS",
    "DemoBuilder",
    "DemoRun",
    "PayloadFactory",
    "ScriptedClock",
    "correlation_id_from",
    "json_depth",
    "run_id_from",
    "skewed_size",
]

#: Every generated timestamp is this instant plus a seeded offset.
BASE_TIME = datetime(2026, 10, 1, tzinfo=timezone.utc)

TENANTS = ("tenant-acme", "tenant-globex", "tenant-initech", "tenant-umbrella", "tenant-demo-001")

#: Agents of the demo; ``None`` stands for runs recorded without an agent (``agent_id`` NULL).
AGENTS: tuple[str | None, ...] = (
    "agent-support-triage",
    "agent-invoice-extractor",
    "agent-research-summarizer",
    "agent-data-sync",
    "agent-email-drafter",
    "agent-code-reviewer",
    "agent-analytics",
    "agent-determinism-test",
    None,
)
_AGENT_WEIGHTS = (18, 14, 12, 14, 10, 10, 9, 5, 8)

#: Skill ids as in upstream's golden planner files (``skill.http_call`` …) plus a few more.
SKILLS = (
    "skill.http_call",
    "skill.json_transform",
    "skill.llm_invoke",
    "skill.postgres_query",
    "skill.email_send",
    "skill.kv_store",
    "skill.webhook_send",
    "skill.echo",
)

#: The skills each agent's plans use, in plan order (the benchmark cycles through them).
AGENT_SKILLS: dict[str | None, tuple[str, ...]] = {
    "agent-support-triage": ("skill.http_call", "skill.llm_invoke", "skill.json_transform", "skill.http_call",
                             "skill.email_send"),
    "agent-invoice-extractor": ("skill.http_call", "skill.llm_invoke", "skill.json_transform",
                                "skill.postgres_query"),
    "agent-research-summarizer": ("skill.http_call", "skill.http_call", "skill.http_call", "skill.llm_invoke",
                                  "skill.kv_store"),
    "agent-data-sync": ("skill.postgres_query", "skill.json_transform", "skill.webhook_send", "skill.kv_store"),
    "agent-email-drafter": ("skill.postgres_query", "skill.llm_invoke", "skill.json_transform", "skill.email_send"),
    "agent-code-reviewer": ("skill.http_call", "skill.llm_invoke", "skill.http_call"),
    "agent-analytics": ("skill.http_call", "skill.json_transform", "skill.llm_invoke"),
    "agent-determinism-test": ("json_transform", "json_transform"),
    None: ("skill.echo", "skill.http_call", "skill.webhook_send"),
}

TRANSIENT_ERRORS = (
    ("ERR_HTTP_503", "upstream returned 503 Service Unavailable"),
    ("ERR_TIMEOUT", "no response within the step deadline"),
    ("ERR_RATE_LIMIT", "429 Too Many Requests: retry after 12 s"),
    ("ERR_HTTP_502", "upstream returned 502 Bad Gateway"),
    ("ERR_CONNECTION_RESET", "connection reset by peer"),
)
PERMANENT_ERRORS = (
    ("ERR_HTTP_404", "resource not found"),
    ("ERR_HTTP_400", "request rejected: field 'email' is not a valid address"),
    ("ERR_SCHEMA_VALIDATION", "output does not match the declared schema: 'total' is required"),
    ("ERR_AUTH_INVALID_KEY", "API key revoked or invalid"),
    ("ERR_POLICY_DENIED", "blocked by policy pol-egress-allowlist: host not allowed"),
    ("ERR_BUDGET_EXCEEDED", "run budget of 25 cents exceeded"),
)

#: What the one planted, damaged ``params`` value holds (a truncated write by a foreign tool).
INVALID_JSON_TEXT = '{"broken": tru'

#: Text from real-world tickets and forms: CJK, Hangul, RTL scripts with direction marks,
#: emoji (incl. ZWJ sequences and a flag), decomposed accents and stacked combining marks.
UNICODE_SNIPPETS = (
    "注文した商品がまだ届いていません。追跡番号を教えてください。",
    "我的订单显示已发货，但物流信息三天没有更新。",
    "결제가 두 번 청구되었습니다. 환불 부탁드립니다.",
    "لم يصل طلبي بعد، هل يمكنكم مساعدتي؟",
    "ההזמנה שלי לא הגיעה, אפשר לבדוק?",
    "Das Paket kam beschädigt an — bitte um Ersatz.",
    "Zoe\u0308 says the cafe\u0301 invoice is wrong",
    "\U0001f4e6\U0001f69a still waiting\u2026 \U0001f624 order #A-1029 "
    "\U0001f469\u200d\U0001f469\u200d\U0001f467 \U0001f1ef\U0001f1f5",
    "Z\u0334\u031ba\u0338\u0321l\u0337g\u0335\u0358o\u0336 text pasted from a broken form",
    "mixed \u200fRTL\u200e marks: مرحبا world שלום",
    "मेरा ऑर्डर अभी तक नहीं आया है।",
    "Η παραγγελία μου καθυστερεί ήδη μία εβδομάδα.",
    "Привет! Счёт выставлен дважды.",
)
_LANGS = ("ja", "zh", "ko", "ar", "he", "de", "en", "en", "en", "ar", "hi", "el", "ru")

_WORDS = (
    "order invoice customer account shipment refund payment request response service cluster "
    "latency retry token budget policy tenant agent trace step replay parity schema record batch "
    "cursor page webhook delivery email template summary analysis report dataset region quota "
    "timeout upstream gateway cache entry value status total amount currency due date vendor line "
    "item quantity price tax discount address street city postal country phone note comment review "
    "diff patch commit branch release deploy build pipeline metric alert incident window baseline "
    "the a of to and in for with on at by from is was will be has have not this that which"
).split()

_HTTP_STATUS = {"ERR_HTTP_503": 503, "ERR_HTTP_502": 502, "ERR_RATE_LIMIT": 429, "ERR_HTTP_404": 404,
                "ERR_HTTP_400": 400, "ERR_AUTH_INVALID_KEY": 401}

_DOMAINS = ("acme-corp.example", "globex.example", "initech.example", "umbrella-health.example",
            "demo-tenant.example")
_FIRST_NAMES = ("ana", "bo", "chen", "dmitri", "eun-ji", "farah", "gil", "hana", "ivan", "jo")
_PLANS = ("free", "team", "business", "enterprise")
_MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "gpt-4o-mini", "stub-model")


#: The version of what :func:`generate_demo` writes, stored in the file (``PRAGMA user_version``):
#: :func:`ensure_demo` regenerates a cached demo written by another version. Raise it whenever the
#: recipe changes what a demo holds (2: runs rows and evidence of every integrity grade).
DEMO_RECIPE_VERSION = 2


# -- ids, sizes, clock --------------------------------------------------------------------------


def run_id_from(rng: random.Random) -> str:
    """An upstream-shaped run id (``generate_run_id``: ``run_`` + 16 lowercase hex) from ``rng``."""
    return f"run_{rng.getrandbits(64):016x}"


def correlation_id_from(rng: random.Random) -> str:
    """A uuid4-shaped correlation id drawn from ``rng`` (not from the OS, so it is reproducible)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def skewed_size(rng: random.Random, lo: int, hi: int, skew: float = 2.0) -> int:
    """A size in ``[lo, hi]``, log-scaled and skewed towards ``lo`` (most payloads are small, a
    few are large): ``lo * (hi/lo) ** (u ** skew)``. With skew 2 the median is ``sqrt4(hi/lo)·lo``."""
    return int(lo * (hi / lo) ** (rng.random() ** skew))


class ScriptedClock:
    """A ``clock`` for :class:`SQLiteTraceWriter` that returns, in order, the instants fed to it.

    Each writer call that stamps a row takes one instant (``start_trace``, ``complete_trace``,
    each step of ``record_steps``), so the caller decides every timestamp; running dry is a bug
    in the caller and raises instead of falling back to wall time.
    """

    def __init__(self) -> None:
        self._queue: deque[datetime] = deque()

    def feed(self, *instants: datetime) -> None:
        self._queue.extend(instants)

    def feed_many(self, instants: Iterable[datetime]) -> None:
        self._queue.extend(instants)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def __call__(self) -> datetime:
        try:
            return self._queue.popleft()
        except IndexError:
            raise RuntimeError("ScriptedClock ran out of instants: a writer call was not scripted") from None


# -- payloads ------------------------------------------------------------------------------------


def _build_corpus() -> str:
    # A fixed private Random: the corpus is the same for every seed and built once per process.
    r = random.Random(0x5EED)
    words = r.choices(_WORDS, k=24_000)
    lines, line = [], []
    for w in words:
        line.append(w)
        if len(line) >= 12 and r.random() < 0.2:
            lines.append(" ".join(line).capitalize() + ".")
            line = []
    return " ".join(lines)


_CORPUS: str | None = None


def _corpus() -> str:
    global _CORPUS
    if _CORPUS is None:
        _CORPUS = _build_corpus()
    return _CORPUS


def _nested(depth: int, leaf: Any, key: str = "child") -> Any:
    node = leaf
    for level in range(depth, 0, -1):
        node = {"level": level, key: node}
    return node


def json_depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0, ``{}``/``[]`` are 1). Iterative."""
    best = 0
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            best = max(best, d + 1)
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            best = max(best, d + 1)
            stack.extend((x, d + 1) for x in v)
    return best


class PayloadFactory:
    """Realistic ``params`` / ``outcome_data`` dicts for the AOS skills, drawn from one Random.

    Shared by the demo (hand-shaped runs) and the large-database benchmark
    (:meth:`sized_params` / :meth:`sized_outcome`, which aim at a byte size).
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.corpus = _corpus()
        self._base_sizes: dict[tuple[str, str], int] = {}

    # -- small pieces --------------------------------------------------------------------------

    def text(self, n: int) -> str:
        """``n`` characters of English-like ASCII prose (a slice of a fixed corpus)."""
        corpus = self.corpus
        if n <= 0:
            return ""
        if n >= len(corpus):
            return ((corpus + " ") * (n // len(corpus) + 1))[:n]
        start = self.rng.randrange(len(corpus) - n)
        # start on a word, not in the middle of one
        if start and corpus[start - 1] != " ":
            cut = corpus.find(" ", start, start + 20)
            if 0 <= cut < len(corpus) - n - 1:
                start = cut + 1
        return corpus[start:start + n]

    def unicode_text(self, n_snippets: int = 1) -> str:
        return " ".join(self.rng.choice(UNICODE_SNIPPETS) for _ in range(n_snippets))

    def hex(self, n: int) -> str:
        return _hex(self.rng, n)

    def uuid(self) -> str:
        return correlation_id_from(self.rng)

    def email(self, bits: int | None = None) -> str:
        b = self.rng.getrandbits(32) if bits is None else bits
        return f"{_FIRST_NAMES[b % 10]}.{(b >> 4) % 9990 + 10}@{_DOMAINS[(b >> 18) % len(_DOMAINS)]}"

    def tokens_for(self, text: str) -> int:
        return max(1, len(text) // 4)

    # -- per-skill shapes ----------------------------------------------------------------------

    def http_params(self, url: str, method: str = "GET", body: Any = None, *, timeout_s: int = 30) -> dict:
        params: dict[str, Any] = {
            "url": url,
            "method": method,
            "headers": {"Accept": "application/json", "X-Request-Id": self.uuid()},
            "timeout_s": timeout_s,
        }
        if body is not None:
            params["headers"]["Content-Type"] = "application/json"
            params["body"] = body
        return params

    def http_outcome(self, body: Any, status_code: int = 200, content_type: str = "application/json") -> dict:
        r = self.rng
        return {
            "status_code": status_code,
            "headers": {
                "content-type": content_type,
                "x-ratelimit-remaining": str(r.randrange(0, 600)),
                "x-request-id": self.hex(16),
            },
            "body": body,
            "elapsed_ms": round(r.lognormvariate(5.0, 0.7), 3),
        }

    def llm_params(self, prompt: str, *, model: str | None = None, max_tokens: int = 1024,
                   system: str | None = None) -> dict:
        params: dict[str, Any] = {
            "model": model or self.rng.choice(_MODELS),
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": self.rng.choice((0.0, 0.2, 0.7)),
        }
        if system:
            params["system"] = system
        return params

    def llm_outcome(self, prompt: str, content: str, model: str) -> dict:
        return {
            "content": content,
            "model": model,
            "usage": {"input_tokens": self.tokens_for(prompt), "output_tokens": self.tokens_for(content)},
            "stop_reason": "end_turn",
            "prompt_hash": hashlib.sha256(prompt.encode()).hexdigest()[:16],
            "response_hash": hashlib.sha256(content.encode()).hexdigest()[:16],
        }

    @staticmethod
    def llm_cost_cents(outcome: Mapping[str, Any]) -> float:
        usage = outcome.get("usage") or {}
        return round(usage.get("input_tokens", 0) * 0.0003 + usage.get("output_tokens", 0) * 0.0015, 4)

    def transform_params(self, data_ref: str, operation: str, path: str | None = None, **extra: Any) -> dict:
        params: dict[str, Any] = {"data": data_ref, "operation": operation}
        if path is not None:
            params["path"] = path
        params.update(extra)
        return params

    def sql_params(self, query: str, args: list[Any], timeout_ms: int = 5000) -> dict:
        return {"query": query, "params": args, "timeout_ms": timeout_ms, "database": "app_primary"}

    def sql_outcome(self, rows: list[dict]) -> dict:
        return {"rows": rows, "row_count": len(rows), "truncated": False}

    def customer_rows(self, n: int, start_id: int = 1) -> list[dict]:
        getrandbits = self.rng.getrandbits  # one draw per row: 9,000-row results stay cheap
        rows = []
        for i in range(n):
            b = getrandbits(64)
            rows.append({
                "id": start_id + i,
                "email": self.email(b & 0xFFFFFFFF),
                "plan": _PLANS[(b >> 32) % 4],
                "mrr_cents": (b >> 34) % 250_000,
                "updated_at": (BASE_TIME - timedelta(minutes=(b >> 50) * 31)).isoformat(),
            })
        return rows

    def failure_outcome(self, code: str, message: str, category: str, attempts: int = 1) -> dict:
        """Shaped like upstream's structured outcome example (``ERR_HTTP_503`` with its attempts)."""
        r = self.rng
        http_status = _HTTP_STATUS.get(code)
        out: dict[str, Any] = {
            "ok": False,
            "error": {"code": code, "message": message, "category": category,
                      "retryable": category == "TRANSIENT"},
            "side_effects": [
                {"type": "http_request" if http_status else "call", "attempt": a + 1,
                 **({"status": http_status} if http_status else {}),
                 "duration_ms": round(r.lognormvariate(5.5, 0.8), 3)}
                for a in range(attempts)
            ],
            "observability": {"trace_id": self.hex(32), "span_id": self.hex(16)},
        }
        if category == "TRANSIENT":
            out["_replay_assertion"] = {"deterministic": False, "reason": "external dependency failed"}
        return out

    # -- sized payloads for the benchmark -----------------------------------------------------

    def _base(self, kind: str, skill: str, build: Callable[[str], dict]) -> int:
        key = (kind, skill)
        if key not in self._base_sizes:
            self._base_sizes[key] = len(json.dumps(build("")))
        return self._base_sizes[key]

    def sized_params(self, skill: str, size: int) -> dict:
        """``params`` for ``skill`` of about ``size`` bytes of JSON (the free-text field grows)."""
        r = self.rng
        page = r.randrange(1, 500)
        domain = r.choice(_DOMAINS)

        def build(filler: str) -> dict:
            if skill == "skill.http_call":
                return self.http_params(f"https://api.{domain}/v2/records/search", "POST",
                                        {"query": filler, "page": page, "page_size": 50})
            if skill == "skill.llm_invoke":
                return self.llm_params("Summarise the following notes for an on-call engineer:\n" + filler,
                                       model="claude-haiku-4-5")
            if skill == "skill.json_transform":
                return self.transform_params("{{s1.body}}", "extract", "$.data.items[*]", comment=filler)
            if skill == "skill.postgres_query":
                return self.sql_params("SELECT id, email, plan, updated_at FROM customers WHERE note LIKE $1",
                                       [filler[:200], page])
            if skill == "skill.email_send":
                return {"to": ["ops@" + domain], "subject": "Daily digest", "body": filler,
                        "template_id": "tpl-digest-v3"}
            if skill == "skill.kv_store":
                return {"op": "set", "key": f"cache:{page}", "value": filler, "ttl_s": 3600}
            if skill == "skill.webhook_send":
                return {"url": f"https://hooks.{domain}/aos", "payload": {"event": "run.step", "note": filler}}
            return {"message": filler}

        base = self._base("params", skill, build)
        return build(self.text(size - base))

    def sized_outcome(self, skill: str, size: int) -> dict:
        """A success ``outcome_data`` for ``skill`` of about ``size`` bytes of JSON."""
        r = self.rng

        def build(filler: str) -> dict:
            if skill == "skill.http_call":
                return {"status_code": 200, "headers": {"content-type": "application/json"},
                        "body": {"data": filler, "next_cursor": "c_4f2a"}, "elapsed_ms": 184.2}
            if skill == "skill.llm_invoke":
                return {"content": filler, "model": "claude-haiku-4-5",
                        "usage": {"input_tokens": 812, "output_tokens": 233}, "stop_reason": "end_turn"}
            if skill == "skill.postgres_query":
                return {"rows": [{"id": 1, "note": filler}], "row_count": 1, "truncated": False}
            if skill == "skill.email_send":
                return {"message_id": "<digest@mail.example>", "accepted": 1, "note": filler}
            return {"output": filler, "transformed": True}

        base = self._base("outcome", skill, build)
        out = build(self.text(size - base))
        if skill == "skill.http_call":
            out["elapsed_ms"] = round(r.lognormvariate(5.0, 0.7), 3)
        return out


# -- the demo ------------------------------------------------------------------------------------


@dataclass
class DemoRun:
    run_id: str
    correlation_id: str
    tenant_id: str
    agent_id: str | None
    plan: list[dict]
    started_at: datetime
    status: str | None  # None: never completed (stays 'running')
    completed_at: datetime | None = None
    metadata: dict | None = None
    steps: list[StepInput] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    determinism: dict | None = None
    big: Callable[[], Iterator[tuple[list[StepInput], list[datetime]]]] | None = None
    big_count: int = 0
    unicode: bool = False

    def final_steps(self) -> dict[int, StepInput]:
        """Rows as stored: a re-recorded index keeps its last write (INSERT OR REPLACE)."""
        out: dict[int, StepInput] = {}
        for s in self.steps:
            out[s.step_index] = s
        return dict(sorted(out.items()))

    @property
    def row_count(self) -> int:
        return self.big_count if self.big is not None else len(self.final_steps())


@dataclass
class _PlanStep:
    step_id: str
    skill: str
    description: str
    params: dict
    outcome: dict
    template: dict | None = None  # the plan's params, with {{placeholders}}
    on_error: str = "abort"
    depends_on: list[str] = field(default_factory=list)
    cost: float | None = None


_DURATION = {  # lognormal (mu, sigma) of duration_ms per skill
    "skill.http_call": (5.3, 0.8),
    "skill.llm_invoke": (7.6, 0.6),
    "skill.json_transform": (1.2, 0.9),
    "skill.postgres_query": (3.5, 1.0),
    "skill.email_send": (5.8, 0.5),
    "skill.kv_store": (0.8, 0.6),
    "skill.webhook_send": (5.0, 0.7),
    "skill.echo": (-1.0, 0.5),
}
_COST = {
    "skill.http_call": 0.02, "skill.json_transform": 0.01, "skill.postgres_query": 0.01,
    "skill.email_send": 0.1, "skill.kv_store": 0.005, "skill.webhook_send": 0.02, "skill.echo": 0.0,
}


class DemoBuilder:
    """Draws the whole demo as :class:`DemoRun` specs (phase 1); :func:`generate_demo` writes them."""

    def __init__(self, seed: int, big_run_steps: int) -> None:
        self.rng = random.Random(seed)
        self.pf = PayloadFactory(self.rng)
        self.big_run_steps = big_run_steps
        self._ids: set[str] = set()

    # -- helpers -------------------------------------------------------------------------------

    def new_run_id(self) -> str:
        while True:
            rid = run_id_from(self.rng)
            if rid not in self._ids:
                self._ids.add(rid)
                return rid

    def duration(self, skill: str) -> float:
        mu, sigma = _DURATION.get(skill, (3.0, 1.0))
        return round(self.rng.lognormvariate(mu, sigma), 3)

    def micro(self, ms: float) -> timedelta:
        return timedelta(microseconds=int(ms * 1000))

    @staticmethod
    def plan_entry(p: _PlanStep) -> dict:
        entry: dict[str, Any] = {
            "step_id": p.step_id,
            "skill": p.skill,
            "params": p.template if p.template is not None else p.params,
            "depends_on": p.depends_on,
            "on_error": p.on_error,
        }
        if p.skill in ("skill.http_call", "skill.webhook_send", "skill.llm_invoke"):
            entry["retry_count"] = 3
        entry["description"] = p.description
        return entry

    # -- agent plans ---------------------------------------------------------------------------

    def plan_for(self, agent: str | None, tenant: str) -> tuple[list[_PlanStep], bool]:
        """The plan steps of one run and whether its payloads carry non-ASCII text."""
        r, pf = self.rng, self.pf
        domain = _DOMAINS[TENANTS.index(tenant)]
        steps: list[_PlanStep] = []
        uni = False
        if agent == "agent-support-triage":
            ticket = f"TCK-{r.randrange(10_000, 99_999)}"
            lang = r.choice(_LANGS)
            if lang == "en":
                text = "Hi, " + pf.text(r.randrange(80, 400))
            else:
                text = pf.unicode_text(r.randrange(1, 4))
                uni = True
            body = {"id": ticket, "subject": text[:40], "body": text, "language": lang,
                    "customer": {"id": r.randrange(1, 50_000), "email": pf.email(), "tier": r.choice(("free", "pro"))},
                    "priority": r.choice(("low", "normal", "high", "urgent"))}
            url = f"https://support.{domain}/api/v2/tickets/{ticket}"
            steps.append(_PlanStep("s1", "skill.http_call", "Fetch ticket", pf.http_params(url), pf.http_outcome(body),
                                   template=pf.http_params(
                                       "https://support.{{tenant_domain}}/api/v2/tickets/{{ticket_id}}")))
            prompt = f"Classify this support ticket (category, urgency, language). Ticket:\n{text}"
            model = r.choice(_MODELS[:3])
            category = r.choice(("shipping", "billing", "refund", "account", "bug"))
            content = json.dumps({"category": category, "urgency": body["priority"], "language": lang,
                                  "summary_in_customer_language": text[:60]}, ensure_ascii=False)
            llm_out = pf.llm_outcome(prompt, content, model)
            steps.append(_PlanStep("s2", "skill.llm_invoke", "Classify ticket", pf.llm_params(prompt, model=model),
                                   llm_out, template={"prompt": "Classify this support ticket: {{s1.body.body}}"},
                                   depends_on=["s1"], cost=pf.llm_cost_cents(llm_out)))
            steps.append(_PlanStep("s3", "skill.json_transform", "Extract labels",
                                   pf.transform_params("{{s2.content}}", "extract", "$.category"),
                                   {"output": {"category": category, "urgency": body["priority"]}, "transformed": True},
                                   depends_on=["s2"]))
            patch = {"tags": [category, lang], "assignee_group": f"{category}-l1"}
            steps.append(_PlanStep("s4", "skill.http_call", "Update ticket", pf.http_params(url, "PATCH", patch),
                                   pf.http_outcome({"id": ticket, "updated": True}), depends_on=["s3"]))
            if r.random() < 0.5:
                reply = pf.unicode_text(1) if uni else "Thanks, we are looking into it."
                steps.append(_PlanStep("s5", "skill.email_send", "Acknowledge customer",
                                       {"to": [body["customer"]["email"]], "subject": f"Re: {body['subject']}",
                                        "body": reply, "template_id": "tpl-ack-v2", "locale": lang},
                                       {"message_id": f"<{pf.hex(24)}@mail.{domain}>", "accepted": 1},
                                       on_error="continue", depends_on=["s4"]))
        elif agent == "agent-invoice-extractor":
            inv = f"INV-2026-{r.randrange(1, 99_999):05d}"
            url = f"https://files.{domain}/invoices/{inv}.pdf"
            pdf = base64.b64encode(r.randbytes(r.randrange(150, 1200))).decode()
            steps.append(_PlanStep("s1", "skill.http_call", "Download invoice", pf.http_params(url),
                                   pf.http_outcome({"content_base64": pdf, "filename": f"{inv}.pdf"},
                                                   content_type="application/pdf")))
            total = round(r.uniform(20, 25_000), 2)
            fields = {"invoice_number": inv, "vendor": r.choice(("Initech GmbH", "Hooli Ltd", "Vandelay Industries")),
                      "currency": r.choice(("EUR", "USD", "JPY")), "total": total,
                      "due_date": (BASE_TIME + timedelta(days=r.randrange(5, 60))).date().isoformat(),
                      "lines": [{"sku": f"SKU-{r.randrange(1000, 9999)}", "qty": r.randrange(1, 20),
                                 "unit_price": round(r.uniform(1, 900), 2)} for _ in range(r.randrange(1, 6))]}
            prompt = ("Extract invoice_number, vendor, currency, total, due_date and lines as JSON "
                      "from the attached PDF.")
            model = r.choice(_MODELS[:2])
            llm_out = pf.llm_outcome(prompt + pdf[:64], json.dumps(fields), model)
            steps.append(_PlanStep("s2", "skill.llm_invoke", "Extract fields",
                                   pf.llm_params(prompt, model=model) | {"attachments": [{"ref": "{{s1.body}}"}]},
                                   llm_out, depends_on=["s1"], cost=pf.llm_cost_cents(llm_out)))
            schema = {"type": "object", "required": ["invoice_number", "total", "currency"],
                      "properties": {"total": {"type": "number", "minimum": 0},
                                     "currency": {"enum": ["EUR", "USD", "JPY"]}}}
            steps.append(_PlanStep("s3", "skill.json_transform", "Validate", pf.transform_params(
                "{{s2.content}}", "validate", schema=schema), {"valid": True, "errors": []}, depends_on=["s2"]))
            q = ("INSERT INTO invoices (number, vendor, currency, total, due_date) "
                 "VALUES ($1, $2, $3, $4, $5) RETURNING id")
            steps.append(_PlanStep("s4", "skill.postgres_query", "Store invoice", pf.sql_params(
                q, [inv, fields["vendor"], fields["currency"], total, fields["due_date"]]),
                pf.sql_outcome([{"id": r.randrange(1, 10**6)}]), depends_on=["s3"]))
        elif agent == "agent-research-summarizer":
            topic = r.choice(("vector databases", "EU AI Act", "SQLite WAL mode", "rate limiting", "LLM evals"))
            hits = []
            for i in range(r.randrange(2, 6)):
                url = f"https://search.{domain}/api/search?q={topic.replace(' ', '+')}&page={i + 1}"
                results = [{"title": pf.text(r.randrange(20, 60)), "url": f"https://docs.example/{pf.hex(8)}",
                            "snippet": pf.text(r.randrange(80, 240))} for _ in range(r.randrange(3, 8))]
                hits.extend(x["snippet"] for x in results)
                steps.append(_PlanStep(f"s{i + 1}", "skill.http_call", f"Search page {i + 1}", pf.http_params(url),
                                       pf.http_outcome({"results": results, "page": i + 1})))
            prompt = f"Write a briefing on {topic} from these sources:\n" + "\n".join(hits)
            model = "claude-sonnet-4-5"
            llm_out = pf.llm_outcome(prompt, pf.text(r.randrange(400, 1500)), model)
            n = len(steps)
            steps.append(_PlanStep(f"s{n + 1}", "skill.llm_invoke", "Summarise",
                                   pf.llm_params(prompt, model=model, max_tokens=2048), llm_out,
                                   template={"prompt": "Write a briefing on {{topic}} from {{search.*.results}}"},
                                   depends_on=[f"s{i + 1}" for i in range(n)], cost=pf.llm_cost_cents(llm_out)))
            steps.append(_PlanStep(f"s{n + 2}", "skill.kv_store", "Cache briefing",
                                   {"op": "set", "key": f"research:{topic}:briefing", "value": "{{summary}}",
                                    "ttl_s": 86_400},
                                   {}, depends_on=[f"s{n + 1}"]))
        elif agent == "agent-data-sync":
            since = (BASE_TIME - timedelta(hours=r.randrange(1, 48))).isoformat()
            rows = pf.customer_rows(r.randrange(1, 6), r.randrange(1, 90_000))
            steps.append(_PlanStep("s1", "skill.postgres_query", "Changed customers", pf.sql_params(
                "SELECT id, email, plan, mrr_cents, updated_at FROM customers "
                "WHERE updated_at > $1 ORDER BY id LIMIT 500",
                [since]), pf.sql_outcome(rows)))
            steps.append(_PlanStep("s2", "skill.json_transform", "Map to CRM", pf.transform_params(
                "{{s1.rows}}", "map", mapping={"externalId": "$.id", "email": "$.email", "segment": "$.plan"}),
                {"output_count": len(rows), "transformed": True}, depends_on=["s1"]))
            steps.append(_PlanStep("s3", "skill.webhook_send", "Push to CRM", {
                "url": f"https://hooks.crm.example/{tenant}/contacts", "method": "POST",
                "payload": {"contacts": [{"externalId": x["id"], "email": x["email"]} for x in rows]},
                "signature": "sha256=" + pf.hex(64)}, {"status_code": 202, "delivery_id": pf.uuid()},
                depends_on=["s2"]))
            steps.append(_PlanStep("s4", "skill.kv_store", "Save cursor", {"op": "set", "key": f"sync:{tenant}:cursor",
                                   "value": rows[-1]["updated_at"]}, {"ok": True, "version": r.randrange(1, 5000)},
                                   depends_on=["s3"]))
        elif agent == "agent-email-drafter":
            cust = pf.customer_rows(1, r.randrange(1, 90_000))
            steps.append(_PlanStep("s1", "skill.postgres_query", "Load customer",
                                   pf.sql_params("SELECT * FROM customers WHERE id = $1", [cust[0]["id"]]),
                                   pf.sql_outcome(cust)))
            prompt = f"Draft a renewal reminder for a {cust[0]['plan']} customer. Keep it under 120 words."
            model = r.choice(_MODELS)
            draft = pf.text(r.randrange(300, 800))
            llm_out = pf.llm_outcome(prompt, draft, model)
            steps.append(_PlanStep("s2", "skill.llm_invoke", "Draft email", pf.llm_params(prompt, model=model), llm_out,
                                   depends_on=["s1"], cost=pf.llm_cost_cents(llm_out)))
            steps.append(_PlanStep("s3", "skill.json_transform", "Split subject/body",
                                   pf.transform_params("{{s2.content}}", "split", delimiter="\n\n"),
                                   {"output": {"subject": draft[:50], "body": draft[50:]}}, depends_on=["s2"]))
            steps.append(_PlanStep("s4", "skill.email_send", "Send", {"to": [cust[0]["email"]], "subject": draft[:50],
                                   "body": draft[50:], "template_id": "tpl-renewal-v5"},
                                   {"message_id": f"<{pf.hex(24)}@mail.{domain}>", "accepted": 1}, depends_on=["s3"]))
        elif agent == "agent-code-reviewer":
            repo = r.choice(("payments-api", "web-console", "aos-runtime", "infra-terraform"))
            pr = r.randrange(100, 9000)
            files = [{"filename": f"src/{pf.text(12).replace(' ', '_').lower()}.py", "additions": r.randrange(1, 200),
                      "deletions": r.randrange(0, 80),
                      "patch": "@@ -1,4 +1,6 @@\n-" + pf.text(60) + "\n+" + pf.text(70)}
                     for _ in range(r.randrange(1, 6))]
            api = f"https://api.github.example/repos/{tenant}/{repo}/pulls/{pr}"
            steps.append(_PlanStep("s1", "skill.http_call", "Fetch PR files", pf.http_params(api + "/files"),
                                   pf.http_outcome(files)))
            prompt = "Review this diff for bugs and risky changes:\n" + "\n".join(f["patch"] for f in files)
            model = "claude-sonnet-4-5"
            review = pf.text(r.randrange(200, 900))
            llm_out = pf.llm_outcome(prompt, review, model)
            steps.append(_PlanStep("s2", "skill.llm_invoke", "Review diff",
                                   pf.llm_params(prompt, model=model, max_tokens=4096),
                                   llm_out, depends_on=["s1"], cost=pf.llm_cost_cents(llm_out)))
            steps.append(_PlanStep("s3", "skill.http_call", "Post review", pf.http_params(
                api + "/reviews", "POST", {"event": "COMMENT", "body": review}), pf.http_outcome(
                {"id": r.randrange(10**6, 10**7), "state": "COMMENTED"}, 201), depends_on=["s2"]))
        elif agent == "agent-analytics":
            # fixtures/aos/golden_planner_multi_step.json: fetch → extract → analyse.
            url = f"https://api.{domain}/users/{r.randrange(1, 5000)}"
            users = pf.customer_rows(r.randrange(2, 8))
            steps.append(_PlanStep("s1", "skill.http_call", "Fetch data", {"url": url, "method": "GET"},
                                   pf.http_outcome({"data": users}), template={"url": "{{url}}", "method": "GET"}))
            steps.append(_PlanStep("s2", "skill.json_transform", "Extract data",
                                   {"data": "{{s1.body}}", "operation": "extract", "path": "$.data"},
                                   {"output": users, "transformed": True}, depends_on=["s1"]))
            prompt = "Analyze: " + json.dumps(users)
            model = "stub-model"
            llm_out = pf.llm_outcome(prompt, "[STUB] deterministic response", model)
            steps.append(_PlanStep("s3", "skill.llm_invoke", "Analyze data", {"prompt": prompt}, llm_out,
                                   template={"prompt": "Analyze: {{s2.output}}"}, depends_on=["s2"],
                                   cost=pf.llm_cost_cents(llm_out)))
        elif agent == "agent-determinism-test":
            # fixtures/aos/golden_trace.json: two json_transform steps with floats.
            a = {"a": r.randrange(0, 10), "b": r.randrange(0, 10)}
            x = {"x": round(r.uniform(0, 10), 8), "y": round(r.uniform(0, 10), 8)}
            steps.append(_PlanStep("s1", "json_transform", "golden step 0", {"input": a}, {"transformed": True}))
            steps.append(_PlanStep("s2", "json_transform", "golden step 1", {"input": x},
                                   {"transformed": True, "sum": round(x["x"] + x["y"], 8)}))
        else:  # agent_id None: ad-hoc calls from a notebook or a script
            steps.append(_PlanStep("s1", "skill.echo", "Echo", {"message": "ping " + pf.hex(6)}, {}))
            steps.append(_PlanStep("s2", "skill.http_call", "Health check",
                                   pf.http_params(f"https://status.{domain}/health", timeout_s=5),
                                   pf.http_outcome({"status": "ok"})))
            if r.random() < 0.5:
                steps.append(_PlanStep("s3", "skill.webhook_send", "Notify", {"url": f"https://hooks.{domain}/ops",
                                       "payload": {"text": "health ok"}}, {}, on_error="continue"))
        return steps, uni

    # -- one run -------------------------------------------------------------------------------

    def build_run(self, agent: str | None, tenant: str, start: datetime, status: str | None,
                  worker_style: bool = False, rerecord: bool = False, inflight: str | None = None) -> DemoRun:
        """Steps for ``status``: retries, failures and skips as upstream writers leave them."""
        r, pf = self.rng, self.pf
        plan_steps, uni = self.plan_for(agent, tenant)
        run = DemoRun(self.new_run_id(), correlation_id_from(r), tenant, agent,
                   [self.plan_entry(p) for p in plan_steps], start, status, unicode=uni)
        # TraceStatus values, or the worker's plan StepStatus vocabulary (spec §2.4).
        ok = "succeeded" if worker_style else "success"
        bad = "failed" if worker_style else "failure"
        again = "retrying" if worker_style else "retry"
        n = len(plan_steps)
        stop = r.randrange(n) if status not in ("completed", "suspended") else n  # index of the fatal step
        t = start
        idx = 0
        last_error = None
        failed_at = None

        def emit(p: _PlanStep, st: str, cat: str, code: str | None, data: Mapping | None, retry: int,
                 dur: float | None = None, cost: float | None = None, index: int | None = None) -> None:
            nonlocal t, idx
            d = self.duration(p.skill) if dur is None else dur
            t = t + self.micro(r.uniform(2, 60) + d)
            c = (p.cost if p.cost is not None else _COST.get(p.skill, 0.0)) if cost is None else cost
            run.steps.append(StepInput(run.run_id, idx if index is None else index, p.skill, p.params, st, cat,
                                       code, data, c, d, retry))
            run.times.append(t)
            if index is None:
                idx += 1

        for i, p in enumerate(plan_steps):
            if status is None and i == stop:  # still running: the step in flight
                emit(p, inflight or r.choice(("running", "pending")), "PENDING", None, None, 0, dur=0.0, cost=0.0)
                break
            if i == stop:
                if status == "timeout":
                    code, msg = "ERR_TIMEOUT", "step exceeded its 30 s deadline"
                    emit(p, bad, "TRANSIENT", code, pf.failure_outcome(code, msg, "TRANSIENT"), 0,
                         dur=round(30_000 + r.uniform(0, 50), 3))
                elif status == "aborted":
                    code, msg = "ERR_BUDGET_EXCEEDED", PERMANENT_ERRORS[-1][1]
                    # the worker's abort path writes 'failure', whatever its own vocabulary (§2.4)
                    emit(p, "failure", "PERMANENT", code, pf.failure_outcome(code, msg, "PERMANENT"), 0)
                elif status == "error":
                    code = "ERR_INTERNAL"
                    emit(p, bad, "PERMANENT", code, {"ok": False, "error": {
                        "code": code, "type": "KeyError", "message": "'body'",
                        "traceback": "Traceback (most recent call last):\n  File \"runtime/executor.py\", line 212, "
                                     "in run_step\n    data = result['body']\nKeyError: 'body'"}}, 0)
                elif r.random() < 0.5:  # failed: retries exhausted on a transient error
                    code, msg = r.choice(TRANSIENT_ERRORS[:3])
                    for a in range(3):
                        emit(p, again, "TRANSIENT", code, pf.failure_outcome(code, msg, "TRANSIENT", a + 1), a)
                    emit(p, bad, "TRANSIENT", code, pf.failure_outcome(code, msg, "TRANSIENT", 4), 3)
                else:
                    code, msg = r.choice(PERMANENT_ERRORS[:5])
                    emit(p, bad, "PERMANENT", code, pf.failure_outcome(code, msg, "PERMANENT"), 0)
                last_error, failed_at = code, idx - 1
                if status == "failed" and r.random() < 0.5:
                    for q in plan_steps[i + 1:]:
                        emit(q, "skipped", "SKIPPED", "SKIPPED_DEPENDENCY_FAILED", None, 0, dur=0.0, cost=0.0)
                break
            roll = r.random()
            if p.on_error == "continue" and roll < 0.15:  # a non-critical step failed, the run went on
                code, msg = ("ERR_EMAIL_BOUNCED", "550 mailbox unavailable") if p.skill == "skill.email_send" \
                    else r.choice(PERMANENT_ERRORS[:2])
                emit(p, bad, "PERMANENT", code, pf.failure_outcome(code, msg, "PERMANENT"), 0)
            elif roll < 0.06 and p.skill not in ("json_transform", "skill.json_transform"):
                code, msg = r.choice(TRANSIENT_ERRORS)
                k = r.randrange(1, 3)
                for a in range(k):
                    emit(p, again, "TRANSIENT", code, pf.failure_outcome(code, msg, "TRANSIENT", a + 1), a)
                emit(p, ok, "SUCCESS", None, p.outcome, k)
            elif roll < 0.09:  # retried inside the skill: no retry rows, only the count
                emit(p, ok, "SUCCESS", None, p.outcome, r.randrange(1, 3))
            elif rerecord and i == 0:
                # record_step twice for one index: INSERT OR REPLACE keeps the second row (new id)
                code, msg = TRANSIENT_ERRORS[0]
                emit(p, again, "TRANSIENT", code, pf.failure_outcome(code, msg, "TRANSIENT", 1), 0, index=idx)
                emit(p, ok, "SUCCESS", None, p.outcome, 1)
            else:
                emit(p, ok, "SUCCESS", None, p.outcome, 0)

        if status is not None:
            run.completed_at = t + self.micro(r.uniform(1, 40))
            run.metadata = self.metadata_for(status, last_error, failed_at, run)
        return run

    def metadata_for(self, status: str, error: str | None, failed_at: int | None, run: DemoRun) -> dict | None:
        r = self.rng
        if status == "completed":
            return None if r.random() < 0.6 else {"worker_id": f"worker-{r.randrange(1, 9)}", "attempt": 1,
                                                  "budget_cents": 50}
        if status == "failed":
            return {"error_code": error, "failed_step": failed_at}
        if status == "timeout":
            return {"timeout_s": 30, "error_code": error}
        if status == "error":
            return {"exception": "KeyError: 'body'"}
        if status == "aborted":
            return {"abort_reason": "budget_exceeded", "budget_cents": 25,
                    "spent_cents": round(sum(s.cost_cents for s in run.steps), 4)}
        return {"suspended_by": "operator", "reason": "awaiting human approval"}

    # -- the whole demo ------------------------------------------------------------------------

    def build(self) -> tuple[list[DemoRun], dict[str, Any]]:
        r = self.rng
        n_normal = 330
        starts = []
        t = BASE_TIME
        for _ in range(n_normal):
            t += timedelta(seconds=r.expovariate(1 / 7200))
            starts.append(t)
        statuses = r.choices(("completed", "failed", "timeout", "error", "aborted", "running"),
                             weights=(72, 13, 4, 4, 4, 3), k=n_normal)
        # Recent runs are still in flight; the first few of each status are guaranteed.
        inflight = {}
        for i in range(1, 7):
            statuses[-i] = None
            inflight[n_normal - i] = ("running", "pending")[i % 2]
        for i, s in enumerate(("completed", "failed", "timeout", "error", "aborted", "suspended")):
            statuses[10 + 7 * i] = s
        statuses = [None if s == "running" else s for s in statuses]
        runs: list[DemoRun] = []
        for i, (start, status) in enumerate(zip(starts, statuses)):
            agent = r.choices(AGENTS, weights=_AGENT_WEIGHTS)[0]
            tenant = r.choice(TENANTS)
            if status == "aborted":
                agent = "agent-data-sync"
            worker = status == "aborted" or (agent == "agent-data-sync" and r.random() < 0.5)
            runs.append(self.build_run(agent, tenant, start, status, worker, rerecord=r.random() < 0.04,
                                       inflight=inflight.get(i)))
        # A few traces keep the determinism fields upstream's update_trace_determinism would set.
        for run in runs:
            if run.agent_id == "agent-determinism-test" and run.status == "completed":
                run.determinism = {
                    "seed": r.randrange(2**31),
                    "frozen_timestamp": run.started_at.replace(microsecond=0).isoformat(),
                    "plan_hash": hashlib.sha256(json.dumps(run.plan, sort_keys=True).encode()).hexdigest()[:16],
                }
        reserved: set[str] = set()
        notes: dict[str, Any] = {}
        notes["large"] = self.plant_large(runs, reserved)
        notes["deep"] = self.plant_deep(runs, reserved)
        notes["invalid"] = self.pick_invalid(runs, reserved)
        notes["orphans"] = self.pick_orphans(runs, reserved)
        replays = self.make_replays(runs, reserved)
        notes["replays"] = [(rp.run_id, rp.metadata["replay_of"]) for rp in replays]
        runs.extend(replays)
        empty = self.make_sdk_posted(starts[len(starts) // 2] + timedelta(seconds=17))
        notes["empty"] = empty.run_id
        runs.append(empty)
        big = self.make_big(starts[len(starts) // 3] + timedelta(seconds=3))
        notes["big"] = big.run_id
        runs.append(big)
        runs.sort(key=lambda x: (x.started_at, x.run_id))
        return runs, notes

    def candidates(self, runs: list[DemoRun], reserved: set[str], skill: str | None = None,
                   agent: str | None | bool = False, statuses: tuple = ("completed",)) -> list[tuple[DemoRun, int]]:
        out = []
        for run in runs:
            if run.run_id in reserved or run.status not in statuses:
                continue
            if agent is not False and run.agent_id != agent:
                continue
            for k, s in enumerate(run.steps):
                if (skill is None or s.skill_name == skill) and s.status in ("success", "succeeded"):
                    out.append((run, k))
                    break
        if not out:
            raise RuntimeError(f"demo recipe found no run for {skill} / {agent}")
        return out

    def plant_large(self, runs: list[DemoRun], reserved: set[str]) -> list[tuple[str, int, str]]:
        """Three payloads over 1 MB: a PDF download, a book-length prompt, a 9,000-row query."""
        r, pf = self.rng, self.pf
        planted = []
        run, k = r.choice(self.candidates(runs, reserved, "skill.http_call", "agent-invoice-extractor"))
        pdf = base64.b64encode(r.randbytes(900_000)).decode()
        s = run.steps[k]
        run.steps[k] = replace(s, outcome_data=pf.http_outcome({"content_base64": pdf, "filename": "scan-300dpi.pdf"},
                                                               content_type="application/pdf"))
        planted.append((run.run_id, s.step_index, "outcome_data"))
        reserved.add(run.run_id)

        run, k = r.choice(self.candidates(runs, reserved, "skill.llm_invoke", "agent-research-summarizer"))
        s = run.steps[k]
        doc = "\n\n".join(pf.text(4000) + " " + pf.unicode_text(2) for _ in range(260))
        run.steps[k] = replace(s, params=dict(s.params, prompt="Summarise this annual report:\n" + doc))
        run.unicode = True
        planted.append((run.run_id, s.step_index, "params"))
        reserved.add(run.run_id)

        run, k = r.choice(self.candidates(runs, reserved, "skill.postgres_query", "agent-data-sync"))
        s = run.steps[k]
        run.steps[k] = replace(s, outcome_data=pf.sql_outcome(pf.customer_rows(9000, 1)))
        planted.append((run.run_id, s.step_index, "outcome_data"))
        reserved.add(run.run_id)
        return planted

    def plant_deep(self, runs: list[DemoRun], reserved: set[str]) -> list[tuple[str, int, str, int]]:
        """A JSON schema nested 33 deep in params, a reply thread 48 deep and a 96-deep tree in outcomes."""
        r, pf = self.rng, self.pf
        planted = []
        run, k = r.choice(self.candidates(runs, reserved, "skill.json_transform"))
        s = run.steps[k]
        schema = {"type": "string", "maxLength": 320}
        for level in range(32, 0, -1):
            schema = {"type": "object", "title": f"level {level}", "properties": {"child": schema}}
        params = dict(s.params, schema=schema)
        run.steps[k] = replace(s, params=params)
        planted.append((run.run_id, s.step_index, "params", json_depth(params)))
        reserved.add(run.run_id)

        run, k = r.choice(self.candidates(runs, reserved, "skill.http_call"))
        s = run.steps[k]
        thread: Any = {"author": pf.email(), "text": pf.unicode_text(1), "replies": []}
        for level in range(47):
            thread = {"author": pf.email(), "text": pf.text(r.randrange(20, 80)), "replies": [thread]}
        out = pf.http_outcome({"thread": thread})
        run.steps[k] = replace(s, outcome_data=out)
        run.unicode = True
        planted.append((run.run_id, s.step_index, "outcome_data", json_depth(out)))
        reserved.add(run.run_id)

        run, k = r.choice(self.candidates(runs, reserved, "skill.json_transform"))
        s = run.steps[k]
        out = {"output": _nested(95, {"leaf": True, "path": "$" + ".child" * 95}), "transformed": True}
        run.steps[k] = replace(s, outcome_data=out)
        planted.append((run.run_id, s.step_index, "outcome_data", json_depth(out)))
        reserved.add(run.run_id)
        return planted

    def pick_invalid(self, runs: list[DemoRun], reserved: set[str]) -> tuple[str, int, str]:
        run, k = self.rng.choice(self.candidates(runs, reserved, "skill.http_call"))
        reserved.add(run.run_id)
        return run.run_id, run.steps[k].step_index, "params"

    def pick_orphans(self, runs: list[DemoRun], reserved: set[str]) -> list[str]:
        pool = [run for run in runs if run.run_id not in reserved and run.status in ("completed", "failed")
                and run.steps]
        chosen = self.rng.sample(pool, 4)
        for run in chosen:
            reserved.add(run.run_id)
        return [run.run_id for run in chosen]

    def make_replays(self, runs: list[DemoRun], reserved: set[str]) -> list[DemoRun]:
        """ReplayEngine runs (spec §1.6): new ids, plan copied, steps mocked, metadata.replay_of."""
        r = self.rng
        pool = [run for run in runs if run.run_id not in reserved and run.status in ("completed", "failed")
                and len(run.final_steps()) >= 2]
        originals = r.sample(pool, 12)
        outcomes = ["completed"] * 9 + ["failed", "timeout", "error"]
        r.shuffle(outcomes)
        replays = []
        for n, (orig, final) in enumerate(zip(originals, outcomes)):
            for again in range(2 if n < 3 else 1):
                start = (orig.completed_at or orig.started_at) + timedelta(seconds=r.uniform(600, 3 * 86_400))
                status = final if again == 0 else "completed"
                replays.append(self.replay_of(orig, start, status, dry_run=r.random() < 0.4,
                                              verify_parity=status == "failed" or r.random() < 0.7))
        return replays

    def replay_of(self, orig: DemoRun, start: datetime, status: str, *, dry_run: bool, verify_parity: bool) -> DemoRun:
        r = self.rng
        run = DemoRun(self.new_run_id(), correlation_id_from(r), orig.tenant_id, orig.agent_id, orig.plan,
                   start, status, unicode=orig.unicode)
        src = list(orig.final_steps().values())
        if status in ("timeout", "error"):  # the replay stopped part-way
            src = src[:max(1, len(src) // 2)]
        t = start
        for k, s in enumerate(src):
            d = round(r.uniform(0.05, 2.0), 3)
            t += self.micro(d + r.uniform(0.1, 1.0))
            # The placeholder executor always "succeeds" (§1.6); a failed replay is a parity failure.
            run.steps.append(StepInput(run.run_id, s.step_index, s.skill_name, s.params, "success", "SUCCESS", None,
                                       {"mock": True}, 0.0, d, 0))
            run.times.append(t)
        run.completed_at = t + self.micro(r.uniform(0.5, 5))
        run.metadata = {"replay_of": orig.run_id, "dry_run": dry_run, "verify_parity": verify_parity}
        return run

    def make_sdk_posted(self, start: datetime) -> DemoRun:
        """POST /traces in SQLite mode: only start_trace runs, correlation = run_id (§1.6)."""
        rid = self.new_run_id()
        plan = [{"skill": "json_transform", "params": {"input": {"a": 1, "b": 2}}},
                {"skill": "llm_invoke", "params": {"prompt": "Analyze this data and provide insights.",
                                                   "model": "stub-model", "max_tokens": 1024}}]
        # SDK timestamps are frozen to whole seconds: isoformat then drops the fraction.
        return DemoRun(rid, rid, "tenant-demo-001", "sdk-client", plan, start.replace(microsecond=0), None)

    def make_big(self, start: datetime) -> DemoRun:
        """One long backfill run: a page loop of query → map → push, with rare retries."""
        rng = self.rng
        total = self.big_run_steps
        tenant = "tenant-globex"
        run = DemoRun(self.new_run_id(), correlation_id_from(rng), tenant, "agent-data-sync", [
            {"step_id": "s1", "skill": "skill.postgres_query",
             "params": {"query": "SELECT … LIMIT 500", "after": "{{cursor}}"},
             "depends_on": [], "on_error": "retry", "description": "Read a page of customers"},
            {"step_id": "s2", "skill": "skill.json_transform", "params": {"data": "{{s1.rows}}", "operation": "map"},
             "depends_on": ["s1"], "on_error": "abort", "description": "Map to CRM contacts"},
            {"step_id": "s3", "skill": "skill.webhook_send", "params": {"url": "https://hooks.crm.example/bulk"},
             "depends_on": ["s2"], "on_error": "retry", "retry_count": 5, "description": "Push page"},
        ], start, "completed", big_count=total)
        rid = run.run_id
        url = f"https://hooks.crm.example/{tenant}/contacts/bulk"
        q = "SELECT id, email, plan, updated_at FROM customers WHERE id > $1 ORDER BY id LIMIT 500"
        # The step stream draws from its own Random (seeded from the demo's) so that it can be
        # produced lazily, batch by batch, while writing, without disturbing the rest of the demo.
        br = random.Random(rng.getrandbits(64))
        micro = self.micro

        def stream(batch: int = 5000) -> Iterator[tuple[list[StepInput], list[datetime]]]:
            t = start
            steps: list[StepInput] = []
            times: list[datetime] = []
            phase = page = cursor = 0
            retrying = False
            for i in range(total):
                if phase == 0:
                    skill, params = "skill.postgres_query", {"query": q, "params": [cursor, 500], "page": page}
                    d = round(br.lognormvariate(3.0, 0.5), 3)
                    data: dict = {"row_count": 500, "first_id": cursor + 1, "last_id": cursor + 500}
                    cost = 0.01
                elif phase == 1:
                    skill, params = "skill.json_transform", {"data": "{{s1.rows}}", "operation": "map", "page": page}
                    d = round(br.lognormvariate(1.0, 0.4), 3)
                    data = {"output_count": 500, "transformed": True}
                    cost = 0.01
                else:
                    skill, params = "skill.webhook_send", {"url": url, "method": "POST", "page": page, "records": 500}
                    d = round(br.lognormvariate(4.2, 0.6), 3)
                    data = {"status_code": 202, "delivery_id": f"dlv_{br.getrandbits(48):012x}"}
                    cost = 0.02
                if phase == 2 and not retrying and i + 1 < total and br.random() < 0.004:
                    # rate limited: a retry row now, the same push succeeds on the next index
                    steps.append(StepInput(rid, i, skill, params, "retry", "TRANSIENT", "ERR_RATE_LIMIT",
                                           {"ok": False, "error": {"code": "ERR_RATE_LIMIT", "retry_after_s": 2}},
                                           cost, d, 0))
                    retrying = True
                else:
                    steps.append(StepInput(rid, i, skill, params, "success", "SUCCESS", None, data, cost, d,
                                           1 if retrying else 0))
                    retrying = False
                    phase += 1
                    if phase == 3:
                        phase, page, cursor = 0, page + 1, cursor + 500
                t = t + micro(d + 0.2 + br.random())
                times.append(t)
                if len(steps) >= batch:
                    yield steps, times
                    steps, times = [], []
            if steps:
                yield steps, times
            run.completed_at = t + timedelta(milliseconds=12)
            run.metadata = {"mode": "backfill", "pages": page + (phase > 0),
                            "loop": {"over": "pages", "until": "cursor is null"}}

        run.big = stream
        return run
