"""`prism start-api`: the template's Api events served over HTTP as API Gateway (REST, Lambda proxy) serves them.

``routes`` (matching), ``request_event`` (the proxy event), ``responses`` (the proxy result and the gateway's
own errors) and ``gateway`` (one request end to end) are pure; ``server`` puts them on a socket and
``docs_site`` serves Swagger UI at ``/_docs``.
"""

from prism_local.runtime.api_gateway.server import ApiGatewayServer, ApiServerStartError

__all__ = ["ApiGatewayServer", "ApiServerStartError"]
