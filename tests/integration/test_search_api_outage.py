"""The API's search adapter on a real opensearch-py client with nothing listening: a clear 503 domain error
(SearchIndexUnavailableError), not a vendor exception that would end as a 500."""

from __future__ import annotations

import pytest

from prism.api.wiring import search_index
from prism.domain.errors import SearchIndexUnavailableError
from prism.search.query import search_query
from prism.settings import SearchReadSettings
from tests.support.ports import free_port

pytestmark = pytest.mark.integration


def test_unreachable_opensearch_is_search_unavailable() -> None:
    settings = SearchReadSettings(
        search_url=f"http://127.0.0.1:{free_port()}", search_auth="none", search_timeout_s=1, aws_region="us-east-1"
    )
    index = search_index(settings)

    with pytest.raises(SearchIndexUnavailableError, match="cannot be reached"):
        index.search(["product"], search_query().body(5))
