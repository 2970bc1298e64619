"""``reindex``: move an entity's alias to a new index generation built from the code's current mapping, while
the search sink keeps writing, without downtime and without losing a document.

For one alias (``products`` -> ``products-v1``):

1. **Prepare.** Put the index template (the code's mapping) and create ``products-v2`` with it. An earlier
   run that stopped part way left ``products-v2`` behind with no alias: it is reused, as long as its mapping
   is the code's.
2. **Copy.** Read ``products-v1`` page by page (``search_after`` on ``id``) and write each document, rebuilt
   by the sink's own ``document_of`` from its stored item (so a new searchable field is filled in too), into
   ``products-v2`` with bulk ``index`` actions under its version as an external version. The sink keeps
   writing into ``products-v1`` meanwhile.
3. **Swap.** One ``_aliases`` request removes ``products-v1`` from the alias and adds ``products-v2`` as its
   write index: readers and writers move at once, there is no moment without an index.
4. **Freeze.** ``products-v1`` gets ``index.blocks.write``. A sink write already routed to it before the swap
   now fails with a 403 ``cluster_block_exception``, which the sink retries: through the alias, into
   ``products-v2``.
5. **Catch up.** Copy ``products-v1`` once more. What the sink wrote into it between the first copy and the
   freeze is copied now; everything else is a 409 (``products-v2`` already holds that version or a newer one,
   which is exactly what external versions are for), counted and harmless.
6. **Verify.** Every document of ``products-v1`` must be in ``products-v2`` at its version or a newer one.

External versions make every step idempotent: a copy never overwrites a newer document, and a run stopped at
any point can be run again. ``products-v1`` is kept, read-only, until ``delete_old``: it is the way back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from opensearchpy import helpers
from opensearchpy.exceptions import NotFoundError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prism.errors import ConfigurationError, PrismError
from prism.search.documents import document_of
from prism.search.indices import INDICES, SETTINGS, EntityIndex

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from opensearchpy import OpenSearch

    #: Progress callback: (alias, phase, documents done, documents in the source when the phase began).
    Progress = Callable[[str, str, int, int], None]

#: Documents read per page and written per bulk request while copying.
PAGE: Final = 1000


class ReindexError(PrismError):
    """A reindex cannot go on; the message says why and what to do. Nothing is lost: the alias still points
    at a complete index (the old one before the swap, the new one after)."""


@dataclass
class CopyFigures:
    """What one copy pass did."""

    read: int = 0
    written: int = 0  # new or newer in the target
    already_current: int = 0  # 409: the target held this version or a newer one


@dataclass
class ReindexReport:
    alias: str
    source: str
    target: str
    mapping_changed: bool  # the source's mapping fingerprint differs from the code's
    first_copy: CopyFigures = field(default_factory=CopyFigures)
    catch_up: CopyFigures = field(default_factory=CopyFigures)
    verified: int = 0
    old_deleted: bool = False


def _no_progress(alias: str, phase: str, done: int, total: int) -> None:
    del alias, phase, done, total


def reindex(
    client: OpenSearch,
    entity: str,
    *,
    prefix: str = "",
    delete_old: bool = False,
    progress: Progress = _no_progress,
) -> ReindexReport:
    """Move ``entity``'s alias to the next generation; see the module docstring for the steps."""
    if entity not in INDICES:
        raise ReindexError(f"no search index for entity {entity!r}; known: {', '.join(sorted(INDICES))}")
    index = INDICES[entity]
    alias = index.alias(prefix)
    source = _source_index(client, index, prefix)
    generation = index.generation_of(source, prefix)
    if generation is None:
        raise ReindexError(f"alias {alias} points at {source}, which is not a generation of it ({alias}-v<N>)")
    target = index.generation_index(generation + 1, prefix)
    report = ReindexReport(alias, source, target, mapping_changed=_fingerprint(client, source) != index.fingerprint())

    client.indices.put_index_template(name=index.template_name(prefix), body=index.template_body(prefix))
    _create_target(client, index, target)
    report.first_copy = _copy(client, source, target, lambda done, total: progress(alias, "copy", done, total))
    client.indices.update_aliases(
        body={
            "actions": [
                {"remove": {"index": source, "alias": alias}},
                {"add": {"index": target, "alias": alias, "is_write_index": True}},
            ]
        }
    )
    client.indices.put_settings(index=source, body={"index.blocks.write": True})
    report.catch_up = _copy(client, source, target, lambda done, total: progress(alias, "catch-up", done, total))
    report.verified = _verify(client, source, target)
    if delete_old:
        client.indices.delete(index=source)
        report.old_deleted = True
    return report


def _source_index(client: OpenSearch, index: EntityIndex, prefix: str) -> str:
    alias = index.alias(prefix)
    try:
        behind = sorted(client.indices.get_alias(name=alias))
    except NotFoundError as exc:
        raise ReindexError(f"alias {alias} does not exist: nothing to reindex (the sink creates it)") from exc
    if len(behind) != 1:
        raise ReindexError(f"alias {alias} points at {len(behind)} indices ({', '.join(behind)}); expected one")
    return str(behind[0])


def _fingerprint(client: OpenSearch, index_name: str) -> str | None:
    mappings = client.indices.get_mapping(index=index_name)[index_name]["mappings"]
    meta = mappings.get("_meta") or {}
    value = meta.get("mapping")
    return value if isinstance(value, str) else None


def _create_target(client: OpenSearch, index: EntityIndex, target: str) -> None:
    if client.indices.exists(index=target):
        # Left by an earlier run that stopped before the swap: reusable if built from this mapping.
        if _fingerprint(client, target) != index.fingerprint():
            raise ReindexError(
                f"{target} exists from an earlier reindex with another mapping; it holds no alias and nothing "
                f"reads it: delete it (DELETE /{target}) and run reindex again"
            )
        client.indices.put_settings(index=target, body={"index.blocks.write": False})
        return
    client.indices.create(index=target, body={"settings": SETTINGS, "mappings": index.mappings()})


def _pages(client: OpenSearch, index_name: str) -> Iterator[list[dict[str, Any]]]:
    """Every document of ``index_name``, ``PAGE`` at a time, in ``id`` order."""
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"query": {"match_all": {}}, "size": PAGE, "sort": [{"id": "asc"}]}
        if after is not None:
            body["search_after"] = after
        hits = client.search(index=index_name, body=body)["hits"]["hits"]
        if hits:
            yield [hit["_source"] for hit in hits]
        if len(hits) < PAGE:
            return
        after = hits[-1]["sort"]


def _count(client: OpenSearch, index_name: str) -> int:
    return int(client.count(index=index_name)["count"])


def _rebuilt(stored: dict[str, Any]) -> dict[str, Any]:
    image = None if stored.get("deleted") is True else stored.get("item")
    return document_of(str(stored["entity"]), str(stored["id"]), int(stored["version"]), image)


def _copy(client: OpenSearch, source: str, target: str, progress: Callable[[int, int], None]) -> CopyFigures:
    figures = CopyFigures()
    total = _count(client, source)
    progress(0, total)
    for page in _pages(client, source):
        actions = [
            {
                "_op_type": "index",
                "_index": target,
                "_id": stored["id"],
                "version": int(stored["version"]),
                "version_type": "external",
                "_source": _rebuilt(stored),
            }
            for stored in page
        ]
        _, errors = helpers.bulk(client, actions, chunk_size=PAGE, raise_on_error=False, max_retries=3)
        refused = [item for item in errors if _status(item) != 409]
        if refused:
            raise ReindexError(f"{len(refused)} document(s) of {source} were refused by {target}: {refused[:3]}")
        figures.read += len(page)
        figures.already_current += len(errors)
        figures.written += len(page) - len(errors)
        progress(figures.read, total)
    if figures.read == 0:
        progress(0, 0)  # an empty index: the phase is done
    return figures


def _status(item: dict[str, Any]) -> int:
    (outcome,) = item.values()
    return int(outcome.get("status", 0))


def _verify(client: OpenSearch, source: str, target: str) -> int:
    """Every document of ``source`` is in ``target`` at its version or a newer one; returns how many."""
    checked = 0
    for page in _pages(client, source):
        ids = [str(stored["id"]) for stored in page]
        found = client.mget(index=target, body={"ids": ids}, _source_includes=["version"])["docs"]
        held = {doc["_id"]: int(doc["_source"]["version"]) for doc in found if doc.get("found")}
        behind = [s["id"] for s in page if held.get(str(s["id"]), -1) < int(s["version"])]
        if behind:
            raise ReindexError(f"{len(behind)} document(s) of {source} are missing or older in {target}: {behind[:5]}")
        checked += len(page)
    return checked


class ReindexRequest(BaseModel):
    """What the reindex function is invoked with: ``{"entities": ["product"], "delete_old": false}``.
    No entities means every entity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entities: tuple[str, ...] = Field(default=(), max_length=len(INDICES))
    delete_old: bool = False

    @classmethod
    def from_event(cls, event: object) -> ReindexRequest:
        """The request in ``event``; anything else is a ReindexError that says what is wrong."""
        try:
            request = cls.model_validate(event)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())
            raise ReindexError(
                f'invalid reindex request ({problems}); expected {{"entities": [...], "delete_old": false}}'
            ) from exc
        unknown = sorted(set(request.entities) - set(INDICES))
        if unknown:
            raise ReindexError(
                f"no search index for entity {', '.join(map(repr, unknown))}; known: {', '.join(INDICES)}"
            )
        return request

    def chosen(self) -> tuple[str, ...]:
        return self.entities or tuple(INDICES)


def report_fields(report: ReindexReport) -> dict[str, object]:
    """A report as plain data (the reindex function's answer), with its summary line."""
    return {
        "alias": report.alias,
        "source": report.source,
        "target": report.target,
        "mapping_changed": report.mapping_changed,
        "copied": report.first_copy.written,
        "caught_up": report.catch_up.written,
        "verified": report.verified,
        "old_deleted": report.old_deleted,
        "summary": describe(report),
    }


@dataclass(frozen=True)
class AliasState:
    """Where an alias points and whether that index was built from the code's current mapping."""

    alias: str
    index: str | None  # None: the alias does not exist yet
    documents: int
    mapping_current: bool


def alias_states(client: OpenSearch, prefix: str = "") -> list[AliasState]:
    """Each entity alias: its index, document count, and whether its mapping is the code's (else: reindex)."""
    states: list[AliasState] = []
    for index in INDICES.values():
        alias = index.alias(prefix)
        if not client.indices.exists_alias(name=alias):
            states.append(AliasState(alias, None, 0, mapping_current=False))
            continue
        source = _source_index(client, index, prefix)
        current = _fingerprint(client, source) == index.fingerprint()
        states.append(AliasState(alias, source, _count(client, source), current))
    return states


def main(argv: list[str] | None = None) -> int:
    """``python -m prism.search.reindex ENTITY...``: reindex against the OpenSearch the settings name
    (SEARCH_URL, SEARCH_AUTH, SEARCH_INDEX_PREFIX, AWS_REGION, as the search sink has them), e.g. from a
    machine that reaches the domain. Locally, ``prism search reindex`` does the same against the stack."""
    import argparse  # noqa: PLC0415 - only the command line needs it
    import sys  # noqa: PLC0415

    from prism.search.client import search_client  # noqa: PLC0415
    from prism.settings import SearchReadSettings  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m prism.search.reindex", description=__doc__.split("\n\n")[0])
    parser.add_argument("entities", nargs="+", choices=sorted(INDICES), metavar="ENTITY")
    parser.add_argument("--delete-old", action="store_true", help="delete the old generation once verified")
    args = parser.parse_args(argv)

    def show(alias: str, phase: str, done: int, total: int) -> None:
        print(f"  {alias} {phase}: {done}/{total}", file=sys.stderr, flush=True)

    try:
        settings = SearchReadSettings.from_env()
        if not settings.search_url:
            raise ConfigurationError("SEARCH_URL is empty: set it to the OpenSearch endpoint")
        client = search_client(settings.model_copy(update={"search_timeout_s": 120.0}))
        for entity in args.entities:
            report = reindex(
                client, entity, prefix=settings.search_index_prefix, delete_old=args.delete_old, progress=show
            )
            print(describe(report))
    except (ConfigurationError, ReindexError) as exc:
        print(f"reindex: {exc}", file=sys.stderr)
        return 2
    return 0


def describe(report: ReindexReport) -> str:
    """One line a person reads after a reindex."""
    change = "mapping changed" if report.mapping_changed else "same mapping, documents rebuilt"
    old = "deleted" if report.old_deleted else "kept read-only; delete it when no longer needed"
    return (
        f"{report.alias}: {report.source} -> {report.target} ({change}); copied {report.first_copy.written}, "
        f"caught up {report.catch_up.written} written meanwhile, {report.verified} verified; {report.source} {old}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
