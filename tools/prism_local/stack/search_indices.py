"""Creates a stack's search indices (index templates, ``<alias>-v1`` and its alias) in the private osmem.

The search sink does the same at every cold start (``ensure_indices``), so on AWS no separate step is
needed; locally `prism stack up` does it first so the indices exist before any change arrives.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException

from prism.search.client import ExactJSONSerializer
from prism.search.indices import INDICES, ensure_indices
from prism_local.config import DEFAULT_STACK_NAME
from prism_local.stack.errors import StackError

if TYPE_CHECKING:
    from prism_local.config import LocalConfig
    from prism_local.template.reader import Template


def search_index_prefix(config: LocalConfig) -> str:
    """This stack's index prefix in the shared osmem: none for the default stack, else ``<stack>-``
    (lowercased, characters outside [a-z0-9_-] as ``-``, at most 42 characters)."""
    if config.stack_name == DEFAULT_STACK_NAME:
        return ""
    name = re.sub(r"[^a-z0-9_-]", "-", config.stack_name.lower()).lstrip("-_")[:40] or "stack"
    return f"{name}-"


def template_index_prefix(template: Template, config: LocalConfig) -> str:
    """The SearchIndexPrefix the template was loaded with (an override wins), else the stack's own."""
    value = template.parameters.get("SearchIndexPrefix")
    return value if isinstance(value, str) else search_index_prefix(config)


def osmem_client(config: LocalConfig) -> OpenSearch:
    return OpenSearch(hosts=[config.opensearch_url], serializer=ExactJSONSerializer(), timeout=10, max_retries=0)


def prepare_search_indices(config: LocalConfig, prefix: str) -> list[str]:
    """Put the index templates and create the missing indices with their aliases; returns the aliases."""
    try:
        ensure_indices(osmem_client(config), prefix)
    except OpenSearchException as exc:
        raise StackError(f"search indices: could not create them in osmem at {config.opensearch_url}: {exc}") from exc
    return [index.alias(prefix) for index in INDICES.values()]
