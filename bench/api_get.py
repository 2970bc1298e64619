"""Benchmark: GET /customers/{id} through the API handler, in one run against a private local stack: a cache
hit, a cache miss (the entry deleted before each call, untimed, so the resolver reads DynamoDB and fills the
cache) and Redis down (a second handler whose cache points at a closed port: its circuit breaker bypasses
Redis), next to the raw Redis GET of an entry of the same size and the raw DynamoDB GetItem of the same item.

    make bench            # or: .venv/bin/python -m bench.api_get --calls 2000

The handler is functions/api/app.py itself, imported in this process with the ApiFunction's environment (as
`prism run` builds it) and called with API Gateway REST proxy events (as `prism start-api` builds them). The
cases run interleaved, in rounds of shuffled order, so the machine's noise hits them alike; the goals are
ratios from the same run: a hit costs at most 0.1x a miss and at most 2x the raw Redis GET (p50).

It then peels the hit path layer by layer (the three Powertools decorators, ``answer_from_cache``, the cache's
GET) to show where a hit's time goes, and when a goal is missed (or with --profile) prints a cProfile of it.

DynamoDB here is moto over HTTP on loopback, far slower than DynamoDB on AWS: it dominates the miss and
Redis-down figures and makes hit/miss look better than it would on AWS; hit/raw Redis GET does not involve moto.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import importlib
import importlib.util
import io
import json
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from prism_local.config import REPO_ROOT, LocalConfig, Ports
from prism_local.runtime.api_gateway.request_event import HttpRequest, proxy_event
from prism_local.runtime.api_gateway.rest_apis import implicit_api, rest_apis
from prism_local.runtime.api_gateway.routes import RouteTable, routes_from_functions
from prism_local.runtime.environment import lambda_environment
from prism_local.runtime.local_runtime import LocalRuntime
from prism_local.runtime.worker import LocalLambdaContext
from prism_local.stack.control import stack_up
from prism_local.stack.lifecycle import LocalStack
from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from types import ModuleType

    from mypy_boto3_dynamodb import DynamoDBClient

    Event = dict[str, Any]
    Handler = Callable[[Event, Any], dict[str, Any]]

RESULTS = REPO_ROOT / "bench" / "results"
HANDLER_FILE = REPO_ROOT / "functions" / "api" / "app.py"
FUNCTION = "ApiFunction"
GOAL_HIT_OVER_MISS = 0.1
GOAL_HIT_OVER_RAW_GET = 2.0
MOTO_NOTE = (
    "DynamoDB is moto over HTTP on loopback, far slower than DynamoDB on AWS: it dominates the miss and "
    "Redis-down figures and makes hit/miss look better than on AWS; hit/raw Redis GET does not involve moto."
)


# ---------------------------------------------------------------------------------------------- the stack


@contextlib.contextmanager
def private_stack() -> Iterator[LocalConfig]:
    """A local stack of this run's own (temporary state dir, free ports) with template.yaml provisioned."""
    with tempfile.TemporaryDirectory(prefix="prism-bench-") as state_dir:
        config = LocalConfig(
            state_dir=Path(state_dir),
            ports=Ports(moto=free_port(), mariadb=free_port(), redis=free_port(), osmem=free_port()),
        )
        servers = LocalStack(config)
        try:
            servers.up()
            stack_up(config)
            yield config
        finally:
            servers.down()


@contextlib.contextmanager
def process_environment(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` is exactly ``env`` inside (a Lambda sees only its function's variables)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def quiet_output() -> Iterator[None]:
    """The handler's log and EMF lines go to /dev/null rather than the terminal (they are still written)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (devnull, *saved):
            os.close(fd)


# ---------------------------------------------------------------------------------------------- the handler


def load_handler_module(name: str) -> ModuleType:
    """functions/api/app.py imported by path as module ``name`` (Powertools reads its settings at import)."""
    spec = importlib.util.spec_from_file_location(name, HANDLER_FILE)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {HANDLER_FILE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Requests:
    """API Gateway REST proxy events for the template's routes, built the way `prism start-api` builds them,
    and the context object Lambda's Python runtime passes (`prism_local.runtime.worker`'s)."""

    def __init__(self, runtime: LocalRuntime) -> None:
        stack = runtime.stack
        apis = {api.api_id: api for api in rest_apis(runtime.template, stack)}
        self._routes = RouteTable(routes_from_functions(runtime.functions(), apis, implicit_api(stack.stack_name)))
        self._account_id = stack.account_id
        self._timeout_ms = int(runtime.function(FUNCTION).timeout * 1000)

    def event(self, method: str, target: str, body: bytes = b"") -> Event:
        headers = [
            ("Host", "127.0.0.1:3000"),
            ("User-Agent", "prism-bench/1.0"),
            ("Accept", "application/json"),
            ("Accept-Encoding", "gzip, deflate"),
        ]
        if body:
            headers.append(("Content-Type", "application/json"))
        request = HttpRequest(method, target, tuple(headers), body, source_ip="127.0.0.1", server_port=3000)
        match = self._routes.match(method, request.path)
        if match is None or match.route.function_id != FUNCTION:
            raise RuntimeError(f"{method} {target} is not routed to {FUNCTION}")
        return proxy_event(
            request, match, request_id=str(uuid.uuid4()), received_at=time.time(), account_id=self._account_id
        )

    def context(self, event: Event) -> LocalLambdaContext:
        return LocalLambdaContext(event["requestContext"]["requestId"], int(time.time() * 1000) + self._timeout_ms)


def header(response: Mapping[str, Any], name: str) -> str | None:
    """A response header, from ``headers`` or (as the REST resolver answers) ``multiValueHeaders``."""
    single = response.get("headers") or {}
    if name in single:
        return str(single[name])
    multi = response.get("multiValueHeaders") or {}
    return str(multi[name][-1]) if multi.get(name) else None


# ---------------------------------------------------------------------------------------------- measuring


@dataclass
class Case:
    """One thing timed: ``prepare`` (untimed) returns the call to time, ``check`` (untimed) verifies its result."""

    label: str
    prepare: Callable[[], Callable[[], object]]
    check: Callable[[Any], None]
    samples_ns: list[int] = field(default_factory=list)

    def run(self, calls: int, *, record: bool = True) -> None:
        for _ in range(calls):
            call = self.prepare()
            started = time.perf_counter_ns()
            result = call()
            elapsed = time.perf_counter_ns() - started
            self.check(result)
            if record:
                self.samples_ns.append(elapsed)

    def percentile_us(self, percent: float) -> float:
        """Nearest-rank percentile, in microseconds."""
        ordered = sorted(self.samples_ns)
        rank = max(1, -(-len(ordered) * percent // 100))
        return ordered[int(rank) - 1] / 1000

    def summary(self) -> dict[str, float]:
        return {"p50_us": self.percentile_us(50), "p99_us": self.percentile_us(99), "calls": len(self.samples_ns)}


def measure(cases: dict[str, Case], calls: int, warmup: int, rounds: int, seed: int = 7) -> None:
    """``warmup`` untimed calls of each case, then ``calls`` timed ones, interleaved in ``rounds`` rounds of
    shuffled order so that the machine's noise spreads over every case alike."""
    order = list(cases.values())
    shuffle = random.Random(seed).shuffle
    for case in order:
        case.run(warmup, record=False)
    per_round, extra = divmod(calls, rounds)
    for round_index in range(rounds):
        shuffle(order)
        for case in order:
            case.run(per_round + (1 if round_index < extra else 0))


# ---------------------------------------------------------------------------------------------- the run


@dataclass
class Bench:
    """Everything the cases need, built against one private stack."""

    requests: Requests
    handler: Handler  # functions/api/app.py with the stack's Redis
    down_handler: Handler  # a second instance of it whose cache points at a closed port
    service: Any  # the handler's prism.api.wiring.Api
    raw_redis: redis.Redis
    dynamodb: DynamoDBClient
    table: str
    customer_id: str
    entry_key: str
    raw_key: str
    entry: bytes  # the cache entry as the API stored it ("B<version>:<body>")
    body: str

    def handler_call(self, handler: Handler, before: Callable[[], object] | None = None) -> Callable[[], object]:
        event = self.requests.event("GET", f"/customers/{self.customer_id}")
        context = self.requests.context(event)
        if before is not None:
            before()
        return functools.partial(handler, event, context)

    def expect(self, source: str) -> Callable[[Any], None]:
        def check(response: dict[str, Any]) -> None:
            if response.get("statusCode") != 200 or header(response, "X-Cache") != source:
                raise RuntimeError(f"expected a 200 with X-Cache {source}, got {response}")
            if response["body"] != self.body:
                raise RuntimeError(f"the {source} body differs from the stored one: {response['body']}")

        return check

    def raw_get_case(self, label: str) -> Case:
        def check(value: bytes | None) -> None:
            if value != self.entry:
                raise RuntimeError(f"raw GET returned {value!r}")

        return Case(label, lambda: functools.partial(self.raw_redis.get, self.raw_key), check)

    def cases(self) -> dict[str, Case]:
        key = {"pk": {"S": f"CUSTOMER#{self.customer_id}"}, "sk": {"S": "A"}}

        def check_get_item(response: dict[str, Any]) -> None:
            if response.get("Item", {}).get("id", {}).get("S") != self.customer_id:
                raise RuntimeError(f"raw GetItem returned {response}")

        return {
            "hit": Case("handler, cache hit", lambda: self.handler_call(self.handler), self.expect("hit")),
            "miss": Case(
                "handler, cache miss (DynamoDB + fill)",
                lambda: self.handler_call(self.handler, lambda: self.raw_redis.delete(self.entry_key)),
                self.expect("loaded"),
            ),
            "redis_down": Case(
                "handler, Redis down (breaker bypass)",
                lambda: self.handler_call(self.down_handler),
                self.expect("bypass"),
            ),
            "raw_redis_get": self.raw_get_case("raw redis.Redis.get, same-size entry"),
            "raw_dynamodb_get_item": Case(
                "raw boto3 get_item (moto, consistent)",
                lambda: functools.partial(self.dynamodb.get_item, TableName=self.table, Key=key, ConsistentRead=True),
                check_get_item,
            ),
        }

    def hit_layers(self) -> dict[str, Case]:
        """The hit path peeled layer by layer: the undecorated handler, the cache lookup, the raw GET."""
        hit = self.expect("hit")
        reads, customer_id = self.service.reads, self.customer_id

        def check_lookup(lookup: object) -> None:
            if getattr(lookup, "body", None) != self.body.encode():
                raise RuntimeError(f"expected a cache hit, got {lookup!r}")

        def answer_from_cache() -> Callable[[], object]:
            return functools.partial(reads.answer_from_cache, self.requests.event("GET", f"/customers/{customer_id}"))

        return {
            "handler": Case("lambda_handler (hit: no decorators)", lambda: self.handler_call(self.handler), hit),
            "answer_from_cache": Case("CachedReads.answer_from_cache(event)", answer_from_cache, hit),
            "cache_get": Case(
                "RedisEntityCache.get: GET + decode",
                lambda: functools.partial(reads._cache.get, "customer", customer_id),
                check_lookup,
            ),
            "raw_redis_get": self.raw_get_case("raw redis.Redis.get"),
        }


def build(config: LocalConfig, runtime: LocalRuntime) -> Bench:
    """Import the handler twice with the function's environment, create one customer through it."""
    env = lambda_environment(runtime.function(FUNCTION), config.aws_environment())
    if any(name == "prism.observability" or name.startswith("aws_lambda_powertools") for name in sys.modules):
        raise RuntimeError("Powertools was imported before the function's environment was set")
    requests = Requests(runtime)
    # The Api (and its cache) is built once per process and lru-cached, so the Redis-down handler is a
    # second instance of the module whose `api` answers an Api built, by the same wiring, with a CACHE_URL
    # at a port nothing listens on.
    api_wiring = importlib.import_module("prism.api.wiring")
    cache_wiring = importlib.import_module("prism.cache.wiring")
    with process_environment({**env, "CACHE_URL": f"redis://127.0.0.1:{free_port()}/0"}):
        cache_wiring.entity_cache.cache_clear()
        down_service = api_wiring.api.__wrapped__()
        cache_wiring.entity_cache.cache_clear()
    handler: Handler = load_handler_module("bench_api_app").lambda_handler
    down_module = load_handler_module("bench_api_app_redis_down")
    vars(down_module)["api"] = lambda: down_service
    down_handler: Handler = down_module.lambda_handler

    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    payload = {"email": email, "name": "Benchmark Customer", "tier": "gold"}
    create = requests.event("POST", "/customers", json.dumps(payload).encode())
    with quiet_output():  # Powertools' log and EMF lines
        created = handler(create, requests.context(create))
    if created.get("statusCode") != 201:
        raise RuntimeError(f"creating the customer failed: {created}")
    customer_id = json.loads(created["body"])["id"]

    raw_redis = redis.Redis.from_url(config.redis_url)
    dynamodb = config.session().client("dynamodb", endpoint_url=config.moto_endpoint)
    read = requests.event("GET", f"/customers/{customer_id}")
    with quiet_output():  # the create left a fence: this miss fills the entry
        loaded = handler(read, requests.context(read))
    entry_key = f"prism:customer:{customer_id}"
    entry = raw_redis.get(entry_key)
    if header(loaded, "X-Cache") != "loaded" or not isinstance(entry, bytes):
        raise RuntimeError(f"the first read did not fill the cache: {loaded}, entry {entry!r}")
    raw_key = f"bench:raw-get:{customer_id}"
    raw_redis.set(raw_key, entry)
    return Bench(
        requests=requests,
        handler=handler,
        down_handler=down_handler,
        service=api_wiring.api(),
        raw_redis=raw_redis,
        dynamodb=dynamodb,
        table=env["TABLE_NAME"],
        customer_id=customer_id,
        entry_key=entry_key,
        raw_key=raw_key,
        entry=entry,
        body=loaded["body"],
    )


def profile_hits(bench: Bench, calls: int, top: int = 15) -> list[dict[str, Any]]:
    """cProfile of ``calls`` hits: the functions with the most time of their own (cProfile inflates small
    functions; the layer figures are the unprofiled ones)."""
    profiler = cProfile.Profile()
    calls_to_make = [bench.handler_call(bench.handler) for _ in range(calls)]
    with quiet_output():
        profiler.enable()
        for call in calls_to_make:
            call()
        profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (filename, line, function), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{_short(filename)}:{line}({function})",
                "calls_per_hit": ncalls / calls,
                "own_us_per_hit": tottime / calls * 1e6,
                "cumulative_us_per_hit": cumtime / calls * 1e6,
            }
        )
    rows.sort(key=lambda row: row["own_us_per_hit"], reverse=True)
    return rows[:top]


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/shared/", "/functions/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def plot(summary: dict[str, dict[str, float]], labels: dict[str, str], title: str, path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - only the plot needs it, and it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(summary)
    positions = range(len(names))
    width = 0.38
    figure, axes = plt.subplots(figsize=(10, 5.5))
    for offset, (percentile, colour) in zip(
        (-width / 2, width / 2), (("p50", "#4c72b0"), ("p99", "#dd8452")), strict=True
    ):
        values = [summary[name][f"{percentile}_us"] for name in names]
        bars = axes.bar([p + offset for p in positions], values, width, label=percentile, color=colour)
        axes.bar_label(bars, labels=[f"{value:,.0f}" for value in values], fontsize=8, padding=2)
    axes.set_yscale("log")
    axes.set_ylabel("latency per call (µs, log scale)")
    axes.set_xticks(list(positions), [labels[name].replace(", ", ",\n", 1) for name in names], fontsize=8)
    axes.set_title(title, fontsize=9)
    axes.legend()
    axes.grid(axis="y", which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def report(title: str, cases: dict[str, Case], *, own: bool = False) -> dict[str, dict[str, float]]:
    """Print p50 and p99 of each case (and, with ``own``, each p50 less the next line's); return them."""
    summary = {name: case.summary() for name, case in cases.items()}
    names = list(summary)
    if own:
        for name, below in zip(names, [*names[1:], None], strict=True):
            summary[name]["own_p50_us"] = summary[name]["p50_us"] - (summary[below]["p50_us"] if below else 0.0)
    print(f"    {title:<42} {'p50 µs':>10} {'p99 µs':>10}" + (f" {'own µs':>9}" if own else ""))
    for name, case in cases.items():
        figures = summary[name]
        line = f"    {case.label:<42} {figures['p50_us']:>10,.1f} {figures['p99_us']:>10,.1f}"
        print(line + (f" {figures['own_p50_us']:>9,.1f}" if own else ""), flush=True)
    return summary


def judge(summary: dict[str, dict[str, float]]) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """The ratios of p50s this benchmark reports, and the goals (met or not); printed too."""
    p50 = {name: figures["p50_us"] for name, figures in summary.items()}
    ratios = {
        "hit_over_miss_p50": p50["hit"] / p50["miss"],
        "hit_over_raw_redis_get_p50": p50["hit"] / p50["raw_redis_get"],
        "redis_down_over_miss_p50": p50["redis_down"] / p50["miss"],
        "miss_over_raw_get_item_p50": p50["miss"] / p50["raw_dynamodb_get_item"],
    }
    goals: dict[str, dict[str, Any]] = {
        name: {"goal": goal, "ratio": ratios[name], "met": ratios[name] <= goal}
        for name, goal in (
            ("hit_over_miss_p50", GOAL_HIT_OVER_MISS),
            ("hit_over_raw_redis_get_p50", GOAL_HIT_OVER_RAW_GET),
        )
    }
    for name, label in (("hit_over_miss_p50", "hit / miss"), ("hit_over_raw_redis_get_p50", "hit / raw Redis GET")):
        verdict = "met" if goals[name]["met"] else "MISSED"
        print(f"    {label:<22} = {ratios[name]:6.3f}x   goal <= {goals[name]['goal']}x: {verdict}")
    print(f"    {'Redis down / miss':<22} = {ratios['redis_down_over_miss_p50']:6.3f}x")
    print(f"    {'miss / raw GetItem':<22} = {ratios['miss_over_raw_get_item_p50']:6.3f}x")
    return ratios, goals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per case")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls per case first")
    parser.add_argument("--rounds", type=int, default=200, help="the calls are interleaved in this many rounds")
    parser.add_argument("--profile", action="store_true", help="profile the hit path even when the goals are met")
    args = parser.parse_args()

    print(
        f"API GET benchmark: GET /customers/{{id}} through functions/api/app.py, {args.calls} calls per case "
        f"after {args.warmup} warm-up, interleaved in {args.rounds} rounds; {os.cpu_count()} CPUs",
        flush=True,
    )
    profile: list[dict[str, Any]] = []
    with private_stack() as config, LocalRuntime(config) as runtime:
        env = lambda_environment(runtime.function(FUNCTION), config.aws_environment())
        with process_environment(env):
            bench = build(config, runtime)
            print(f"  one customer: body {len(bench.body)} bytes, cache entry {len(bench.entry)} bytes", flush=True)
            cases = bench.cases()
            with quiet_output():
                measure(cases, args.calls, args.warmup, args.rounds)
            summary = report("case", cases)
            ratios, goals = judge(summary)
            print(f"  note: {MOTO_NOTE}")

            layer_cases = bench.hit_layers()
            with quiet_output():
                measure(layer_cases, args.calls, args.warmup, args.rounds)
            print("  where a hit's time goes (each line peels one layer off the one above; own = p50 less the next):")
            layers = report("layer", layer_cases, own=True)
            if args.profile or not all(goal["met"] for goal in goals.values()):
                profile = profile_hits(bench, args.calls)
                print("  cProfile of the hit path, top functions by own time (µs per hit, inflated by profiling):")
                for row in profile:
                    own, cumulative = row["own_us_per_hit"], row["cumulative_us_per_hit"]
                    print(f"    {own:>7.1f} own {cumulative:>8.1f} cumulative  {row['function']}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {
        "calls_per_case": args.calls,
        "warmup_per_case": args.warmup,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "body_bytes": len(bench.body),
        "entry_bytes": len(bench.entry),
        "cases": summary,
        "ratios": ratios,
        "goals": goals,
        "hit_layers": layers,
        "hit_profile": profile,
        "note": MOTO_NOTE,
    }
    (RESULTS / "api_get.json").write_text(json.dumps(results, indent=2))
    title = (
        f"GET /customers/{{id}} through the API handler, {args.calls} calls per case, {os.cpu_count()} CPUs\n"
        f"hit/miss {ratios['hit_over_miss_p50']:.3f}x (goal <= {GOAL_HIT_OVER_MISS}x), "
        f"hit/raw Redis GET {ratios['hit_over_raw_redis_get_p50']:.2f}x (goal <= {GOAL_HIT_OVER_RAW_GET}x) at p50; "
        "DynamoDB is moto over HTTP (far slower than on AWS)"
    )
    plot(summary, {name: case.label for name, case in cases.items()}, title, RESULTS / "api_get.png")
    print(f"  results: {RESULTS / 'api_get.json'}, {RESULTS / 'api_get.png'}")


if __name__ == "__main__":
    main()
