"""The OpenSearch client, built from the settings: plain HTTP to osmem locally, SigV4 over HTTPS on AWS.

``SEARCH_AUTH`` decides, never a code edit: ``none`` (a local or self-managed OpenSearch, no signing),
``sigv4-es`` (an Amazon OpenSearch Service domain, signing service ``es``) or ``sigv4-aoss`` (OpenSearch
Serverless, signing service ``aoss``). Signing uses the function role's credentials through
``AWSV4SignerAuth`` with ``RequestsHttpConnection``, the pairing the opensearch-py docs give for SigV4.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import boto3
from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection
from opensearchpy.exceptions import SerializationError
from opensearchpy.serializer import JSONSerializer

from prism.changes import exact_json
from prism.errors import ConfigurationError

if TYPE_CHECKING:
    from prism.settings import SearchReadSettings, SearchSinkSettings

SIGNING_SERVICES: Final = {"sigv4-es": "es", "sigv4-aoss": "aoss"}


class ExactJSONSerializer(JSONSerializer):
    """Request and response bodies as exact JSON: numbers are read as ``Decimal`` (integers as ``int``) and
    ``Decimal`` is written as its exact text. opensearch-py's own serializer reads floats and writes a
    ``Decimal`` as a float, which would round a stored price on its way through a search hit or a reindex."""

    def loads(self, s: str) -> Any:
        try:
            return exact_json.loads(s)
        except ValueError as exc:
            raise SerializationError(s, exc) from exc

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str):
            return data
        try:
            return exact_json.dumps(data)
        except (TypeError, ValueError) as exc:
            raise SerializationError(data, exc) from exc


def search_client(settings: SearchSinkSettings | SearchReadSettings) -> OpenSearch:
    """A client for ``settings.search_url`` (settings guarantee https when signing). opensearch-py's own
    retries are off: the sink retries item by item, and the API answers 503 rather than wait."""
    url = urlsplit(settings.search_url)
    if settings.search_auth == "none":
        return OpenSearch(
            hosts=[settings.search_url],
            serializer=ExactJSONSerializer(),
            timeout=settings.search_timeout_s,
            max_retries=0,
            retry_on_timeout=False,
        )
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ConfigurationError("SEARCH_AUTH signs with SigV4, but no AWS credentials were found")
    auth = AWSV4SignerAuth(credentials, settings.aws_region, SIGNING_SERVICES[settings.search_auth])
    return OpenSearch(
        hosts=[{"host": url.hostname, "port": url.port or 443}],
        http_auth=auth,
        serializer=ExactJSONSerializer(),
        use_ssl=True,
        verify_certs=True,
        connection_class=RequestsHttpConnection,
        pool_maxsize=4,
        timeout=settings.search_timeout_s,
        max_retries=0,
        retry_on_timeout=False,
    )
