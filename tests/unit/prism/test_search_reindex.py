"""The reindex command line and its summary (the reindex itself runs against osmem in
tests/integration/test_search_reindex.py)."""

from __future__ import annotations

import pytest

from prism.search.reindex import CopyFigures, ReindexError, ReindexReport, ReindexRequest, describe, main


def test_the_aws_entry_point_needs_an_opensearch_endpoint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("SEARCH_URL", raising=False)

    assert main(["product"]) == 2
    assert "SEARCH_URL is empty" in capsys.readouterr().err


def test_the_aws_entry_point_refuses_unsigned_http_when_signing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("SEARCH_URL", "http://search.example")
    monkeypatch.setenv("SEARCH_AUTH", "sigv4-es")

    assert main(["product"]) == 2
    assert "https" in capsys.readouterr().err


def test_an_unknown_entity_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["widget"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'widget'" in capsys.readouterr().err


def test_the_summary_says_where_the_alias_went_and_what_became_of_the_old_index() -> None:
    report = ReindexReport("products", "products-v1", "products-v2", mapping_changed=True)
    report.first_copy = CopyFigures(read=100, written=100)
    report.catch_up = CopyFigures(read=103, written=3, already_current=100)
    report.verified = 103

    assert describe(report) == (
        "products: products-v1 -> products-v2 (mapping changed); copied 100, caught up 3 written meanwhile, "
        "103 verified; products-v1 kept read-only; delete it when no longer needed"
    )


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"entities": ["widget"]}, "no search index for entity 'widget'; known: customer, product, order"),
        ({"entities": "product"}, "entities: Input should be a valid tuple"),
        ({"entity": ["product"]}, "entity: Extra inputs are not permitted"),
        ({"delete_old": "maybe"}, "delete_old: Input should be a valid boolean"),
        (["product"], "event: Input should be a valid dictionary"),
    ],
)
def test_a_bad_reindex_request_says_what_is_wrong(event: object, message: str) -> None:
    with pytest.raises(ReindexError, match=r"invalid reindex request|no search index") as raised:
        ReindexRequest.from_event(event)
    assert message in str(raised.value)


def test_a_reindex_request_without_entities_means_every_entity() -> None:
    assert ReindexRequest.from_event({}).chosen() == ("customer", "product", "order")
    request = ReindexRequest.from_event({"entities": ["order"], "delete_old": True})
    assert (request.chosen(), request.delete_old) == (("order",), True)
