"""Route matching as API Gateway's REST APIs match: most specific first, ANY last, raw path parameters."""

from __future__ import annotations

import pytest

from prism_local.runtime.api_gateway.rest_apis import RestApi
from prism_local.runtime.api_gateway.routes import Route, RouteTable, parse_resource_path

API = RestApi("Api", "abc123", "test")


def table(*routes: tuple[str, str]) -> RouteTable:
    return RouteTable(Route(method, path, f"{method} {path}", API) for method, path in routes)


def served_by(routes: RouteTable, method: str, path: str) -> str | None:
    match = routes.match(method, path)
    return None if match is None else match.route.function_id


def test_a_literal_beats_a_parameter_which_beats_a_greedy_parameter() -> None:
    routes = table(("GET", "/{proxy+}"), ("GET", "/customers/{id}"), ("GET", "/customers/me"))

    assert served_by(routes, "GET", "/customers/me") == "GET /customers/me"
    assert served_by(routes, "GET", "/customers/42") == "GET /customers/{id}"
    assert served_by(routes, "GET", "/customers/42/orders") == "GET /{proxy+}"
    assert served_by(routes, "GET", "/products") == "GET /{proxy+}"


def test_specificity_is_decided_from_the_left() -> None:
    routes = table(("GET", "/{kind}/orders"), ("GET", "/customers/{proxy+}"))

    assert served_by(routes, "GET", "/customers/orders") == "GET /customers/{proxy+}"
    assert served_by(routes, "GET", "/products/orders") == "GET /{kind}/orders"


def test_any_matches_every_method_but_an_explicit_method_wins() -> None:
    routes = table(("ANY", "/customers"), ("POST", "/customers"))

    assert served_by(routes, "POST", "/customers") == "POST /customers"
    for method in ("GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
        assert served_by(routes, method, "/customers") == "ANY /customers"


def test_a_path_without_a_route_for_the_method_is_unmatched() -> None:
    routes = table(("GET", "/customers"), ("POST", "/orders"))

    assert served_by(routes, "DELETE", "/customers") is None
    assert served_by(routes, "HEAD", "/customers") is None  # GET does not imply HEAD on API Gateway
    assert served_by(routes, "GET", "/nowhere") is None


def test_a_less_specific_route_serves_a_method_the_specific_one_lacks() -> None:
    routes = table(("GET", "/customers/{id}"), ("ANY", "/{proxy+}"))

    assert served_by(routes, "DELETE", "/customers/42") == "ANY /{proxy+}"


def test_a_greedy_parameter_takes_one_or_more_segments_but_not_the_root() -> None:
    routes = table(("ANY", "/files/{proxy+}"), ("ANY", "/{proxy+}"))

    files = routes.match("GET", "/files/a/b/c.txt")
    assert files is not None
    assert files.path_parameters == {"proxy": "a/b/c.txt"}
    assert served_by(routes, "GET", "/files") == "ANY /{proxy+}"
    assert served_by(routes, "GET", "/") is None


def test_the_root_is_a_resource_of_its_own() -> None:
    routes = table(("GET", "/"), ("GET", "/{proxy+}"))

    root = routes.match("GET", "/")
    assert root is not None
    assert (root.route.function_id, root.path_parameters) == ("GET /", {})


def test_trailing_slashes_are_ignored_and_paths_are_case_sensitive() -> None:
    routes = table(("GET", "/customers/{id}"))

    with_slash = routes.match("GET", "/customers/42/")
    assert with_slash is not None
    assert with_slash.path_parameters == {"id": "42"}
    assert served_by(routes, "GET", "/Customers/42") is None


def test_path_parameters_are_whole_non_empty_segments_and_stay_percent_encoded() -> None:
    routes = table(("GET", "/customers/{id}"), ("GET", "/files/{proxy+}"))

    encoded = routes.match("GET", "/customers/a%40b%2Fc")
    greedy = routes.match("GET", "/files/test%2Balias@gmail.com/plus/test+alias")

    assert encoded is not None
    assert encoded.path_parameters == {"id": "a%40b%2Fc"}  # %2F does not split the segment
    assert greedy is not None
    assert greedy.path_parameters == {"proxy": "test%2Balias@gmail.com/plus/test+alias"}
    assert served_by(routes, "GET", "/customers//") is None
    assert served_by(routes, "GET", "/customers/1/2") is None


def test_the_same_method_and_path_shape_twice_keeps_the_first() -> None:
    first = Route("GET", "/customers/{id}", "First", API)
    second = Route("GET", "/customers/{customerId}", "Second", RestApi("Other", "def456", "v1"))
    distinct = Route("POST", "/customers/{id}", "Third", API)

    routes = RouteTable([first, second, distinct])

    assert routes.routes == (first, distinct)
    assert routes.shadowed == [(second, first)]


def test_a_route_names_its_canonical_resource_and_a_stable_resource_id() -> None:
    route = Route("GET", "/customers/{id}/", "Fn", API)

    assert route.resource == "/customers/{id}"
    assert route.resource_id == Route("POST", "/customers/{id}", "Other", API).resource_id
    assert route.resource_id != Route("GET", "/orders/{id}", "Fn", API).resource_id


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("customers", "must start with '/'"),
        ("/a//b", "empty segment"),
        ("/files/{name}.json", "whole segment"),
        ("/{proxy+}/more", "must be the last segment"),
    ],
)
def test_paths_api_gateway_would_refuse_are_refused(path: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_resource_path(path)
