"""`prism`: the local stack, the template-driven Lambda runtime and the demo, from one command.

prism stack up|down|status      private moto, MariaDB, Redis and osmem, with template.yaml provisioned
prism invoke FUNCTION --event F what `sam local invoke` does, without Docker
prism run                       every event source of the template, polled as Lambda would (Ctrl-C stops)
prism start-api                 the template's API on http://127.0.0.1:3000, beside the pollers (`sam local start-api`)
prism demo                      the whole pipeline end to end, with a report
prism lake query "SQL"          SQL over the local lake with DuckDB: the tables `changes` and `latest`, as in Athena
prism search indices            each search alias, the index behind it, and whether its mapping is the code's
prism search reindex [ENTITY]   move aliases to a new index generation with the code's mapping, no downtime
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prism.search.indices import INDICES
from prism.search.reindex import ReindexError, alias_states, describe, reindex
from prism_local import openapi
from prism_local.analytics import render_table
from prism_local.config import ConfigError, LocalConfig
from prism_local.demo import run_demo
from prism_local.lake_query import LakeQueryError, query_lake
from prism_local.progress import ProgressBar
from prism_local.runtime.api_gateway import ApiServerStartError
from prism_local.runtime.local_runtime import LocalRuntime
from prism_local.runtime.serve import ApiOptions, serve, serve_event_sources
from prism_local.stack.control import load_template, stack_down, stack_status, stack_up
from prism_local.stack.errors import StackError
from prism_local.stack.provision import load_stack
from prism_local.stack.search_indices import osmem_client, template_index_prefix
from prism_local.template.model import TemplateError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from opensearchpy import OpenSearch

EXIT_OK, EXIT_FUNCTION_ERROR, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Something the user can fix: the message says what."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = _config(args)
        code: int = args.command(config, args)
    except (UsageError, ConfigError, StackError, TemplateError) as exc:
        print(f"prism: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("prism: interrupted", file=sys.stderr)
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prism", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--state-dir", type=Path, help="where the local stack keeps its state (default .local/)")
    parser.add_argument("--template", type=Path, help="the SAM template (default template.yaml)")
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameter values, as for sam",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    stack = commands.add_parser("stack", help="start, stop or inspect the local stack")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.set_defaults(command=_stack)

    invoke = commands.add_parser("invoke", help="invoke one function of the template with an event file")
    invoke.add_argument("function", help="the function's logical id in template.yaml, e.g. FanoutFunction")
    invoke.add_argument("--event", "-e", type=Path, required=True, help="JSON event file, e.g. events/fanout/...")
    invoke.set_defaults(command=_invoke)

    run = commands.add_parser("run", help="poll every event source of the template (Ctrl-C stops)")
    run.set_defaults(command=_run)

    start_api = commands.add_parser(
        "start-api", help="serve the template's API routes over HTTP, with the event-source pollers (Ctrl-C stops)"
    )
    start_api.add_argument("--port", type=int, default=3000, help="TCP port (default 3000)")
    start_api.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    start_api.add_argument("--no-pollers", action="store_true", help="serve the API only, without the event sources")
    start_api.add_argument(
        "--openapi", type=Path, help="OpenAPI document shown at /_docs (default docs/openapi.json beside the template)"
    )
    start_api.set_defaults(command=_start_api)

    openapi = commands.add_parser("openapi", help="write docs/openapi.json from the API's resolver")
    openapi.add_argument("--check", action="store_true", help="fail if the committed document has drifted")
    openapi.set_defaults(command=_openapi)

    demo = commands.add_parser("demo", help="run the whole local pipeline end to end and print a report")
    demo.add_argument("--items", type=int, default=300, help="entities to create (default 300)")
    demo.add_argument("--keep-stack", action="store_true", help="leave the local stack running afterwards")
    demo.set_defaults(command=_demo)

    lake = commands.add_parser("lake", help="the data lake of the local stack")
    lake_commands = lake.add_subparsers(required=True, metavar="ACTION")
    lake_query = lake_commands.add_parser(
        "query",
        help="run SQL with DuckDB over the lake objects in moto's S3",
        description="Run SQL over the local lake with DuckDB. `changes` is every change (the Glue table), "
        "`latest` the latest state per key, deletes excluded (the Glue view); docs/lake.md has examples.",
    )
    lake_query.add_argument("sql", help='e.g. "SELECT entity, count(*) AS items FROM latest GROUP BY entity"')
    lake_query.set_defaults(command=_lake_query)

    search = commands.add_parser("search", help="the search indices of the local stack")
    search_commands = search.add_subparsers(required=True, metavar="ACTION")
    search_commands.add_parser(
        "indices", help="each alias, the index behind it, its documents and whether its mapping is the code's"
    ).set_defaults(command=_search_indices)
    search_reindex = search_commands.add_parser(
        "reindex",
        help="move aliases to a new index generation built from the code's mapping (docs/search.md)",
        description="Copy each entity's index into the next generation with the code's current mapping, swap "
        "the alias atomically, freeze the old index and copy what was written meanwhile. The sink may keep "
        "running; nothing is lost. docs/search.md explains the steps.",
    )
    search_reindex.add_argument(
        "entities", nargs="*", choices=sorted(INDICES), metavar="ENTITY", help="default: every entity"
    )
    search_reindex.add_argument("--delete-old", action="store_true", help="delete the old generation once verified")
    search_reindex.set_defaults(command=_search_reindex)
    return parser


def _config(args: argparse.Namespace) -> LocalConfig:
    config = LocalConfig.from_env()
    overrides: dict[str, str] = {}
    for pair in args.parameter_overrides:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--parameter-overrides takes KEY=VALUE pairs, got {pair!r}")
        overrides[key] = value
    changes: dict[str, Any] = {"parameter_overrides": overrides}
    if args.state_dir:
        changes["state_dir"] = args.state_dir.resolve()
    if args.template:
        if not args.template.is_file():
            raise UsageError(f"template {args.template} does not exist")
        changes["template"] = args.template.resolve()
    return config.with_overrides(**changes)


def _print_progress(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


def _stack(config: LocalConfig, args: argparse.Namespace) -> int:
    if args.action == "up":
        result = stack_up(config, _print_progress)
        emulated, skipped = len(result.stack.resources), len(result.stack.not_emulated)
        print(f"local stack up in {config.state_dir} ({emulated} resources provisioned, {skipped} not emulated)")
        print("stop it with: prism stack down   (or: make down)")
    elif args.action == "down":
        stack_down(config, _print_progress)
        print("local stack stopped")
    else:
        status = stack_status(config)
        for server in status.servers:
            state = "ready" if server.ready else ("running" if server.running else "stopped")
            print(f"{server.name:<8} {state:<8} pid {server.pid or '-':<8} port {server.port:<6} log {server.log_file}")
        _print_resources(config)
        return EXIT_OK if status.all_ready else EXIT_FUNCTION_ERROR
    return EXIT_OK


def _print_resources(config: LocalConfig) -> None:
    if not config.stack_file.exists():
        print("nothing provisioned (run: prism stack up)")
        return
    stack = load_stack(config.stack_file)
    print(f"\nprovisioned from {config.template.name} as stack {stack.stack_name!r}:")
    for logical_id, resource in sorted(stack.resources.items()):
        print(f"  {logical_id:<36} {resource.type:<32} {resource.ref}")
    if stack.not_emulated:
        print("\nnot emulated locally (deployed on AWS only):")
        for logical_id, resource_type in sorted(stack.not_emulated.items()):
            print(f"  {logical_id:<36} {resource_type}")


def _read_event(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read event file {path}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"event file {path} is not valid JSON: {exc}") from exc


def _require_running_stack(config: LocalConfig) -> None:
    status = stack_status(config)
    if not config.stack_file.exists() or not status.server("moto").ready:
        raise UsageError("the local stack is not running: start it with `prism stack up` (or `make up`)")


def _invoke(config: LocalConfig, args: argparse.Namespace) -> int:
    event = _read_event(args.event)
    _require_running_stack(config)

    def echo(_function_id: str, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with LocalRuntime(config, echo=echo, max_environments=1) as runtime:
        spec = runtime.function(args.function)
        invocation = runtime.pool(spec).invoke(event)
    print(
        f"END RequestId: {invocation.request_id}  Duration: {invocation.duration_ms:.1f} ms",
        file=sys.stderr,
    )
    print(json.dumps(invocation.error if invocation.failed else invocation.payload, indent=2))
    return EXIT_FUNCTION_ERROR if invocation.failed else EXIT_OK


def _run(config: LocalConfig, args: argparse.Namespace) -> int:
    _require_running_stack(config)
    return serve_event_sources(config)


def _start_api(config: LocalConfig, args: argparse.Namespace) -> int:
    if not 0 <= args.port < 65536:
        raise UsageError(f"--port {args.port} is outside 0..65535")
    _require_running_stack(config)
    openapi_file = args.openapi.resolve() if args.openapi else config.template.parent / "docs" / "openapi.json"
    try:
        return serve(config, api=ApiOptions(args.host, args.port, openapi_file), pollers=not args.no_pollers)
    except ApiServerStartError as exc:
        raise UsageError(f"{exc} (another `prism start-api`? choose one with --port)") from exc


def _openapi(_config: LocalConfig, args: argparse.Namespace) -> int:
    if args.check:
        if openapi.drifted():
            print(f"prism: {openapi.DOCUMENT} is out of date: run `prism openapi` (or make openapi)", file=sys.stderr)
            return EXIT_FUNCTION_ERROR
        print(f"{openapi.DOCUMENT} matches the code")
        return EXIT_OK
    openapi.write()
    print(f"wrote {openapi.DOCUMENT}")
    return EXIT_OK


def _demo(config: LocalConfig, args: argparse.Namespace) -> int:
    if args.items < 1:
        raise UsageError("--items must be at least 1")
    return run_demo(config, items=args.items, keep_stack=args.keep_stack)


def _lake_query(config: LocalConfig, args: argparse.Namespace) -> int:
    _require_running_stack(config)
    try:
        result = query_lake(config, args.sql)
    except LakeQueryError as exc:
        raise UsageError(str(exc)) from exc
    for line in render_table(result.columns, result.rows, indent=""):
        print(line)
    print(f"({len(result.rows)} row{'' if len(result.rows) == 1 else 's'})", file=sys.stderr)
    return EXIT_OK


def _search_target(config: LocalConfig) -> tuple[OpenSearch, str]:
    _require_running_stack(config)
    return osmem_client(config), template_index_prefix(load_template(config), config)


def _search_indices(config: LocalConfig, _args: argparse.Namespace) -> int:
    client, prefix = _search_target(config)
    rows = [
        (state.alias, state.index or "(none)", state.documents, "yes" if state.mapping_current else "no: reindex")
        for state in alias_states(client, prefix)
    ]
    for line in render_table(("alias", "index", "documents", "mapping current"), rows, indent=""):
        print(line)
    return EXIT_OK


def _search_reindex(config: LocalConfig, args: argparse.Namespace) -> int:
    client, prefix = _search_target(config)
    bars: dict[tuple[str, str], ProgressBar] = {}

    def show(alias: str, phase: str, done: int, total: int) -> None:
        if total:  # documents written while a phase runs can take it past its starting count
            bars.setdefault((alias, phase), ProgressBar(f"{alias} {phase}", total)).update(done)

    for entity in args.entities or sorted(INDICES):
        try:
            report = reindex(client, entity, prefix=prefix, delete_old=args.delete_old, progress=show)
        except ReindexError as exc:
            raise UsageError(f"reindex {entity}: {exc}") from exc
        print(describe(report))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
