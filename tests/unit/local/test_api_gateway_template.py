"""Routes and APIs read from a SAM template: explicit APIs, SAM's implicit one, and mistakes named by path."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from prism_local.config import ACCOUNT_ID, DEFAULT_REGION, REPO_ROOT
from prism_local.runtime.api_gateway.rest_apis import implicit_api, local_api_id, rest_apis
from prism_local.runtime.api_gateway.routes import routes_from_functions
from prism_local.template.model import TemplateError
from prism_local.template.reader import Template
from tests.support.provisioned import fake_stack

if TYPE_CHECKING:
    from prism_local.runtime.api_gateway.routes import Route

ECHO_TEMPLATE = REPO_ROOT / "tests" / "fixtures" / "templates" / "api-echo.yaml"


def routes_of(template: Template) -> list[Route]:
    stack = fake_stack(template)
    apis = {api.api_id: api for api in rest_apis(template, stack)}
    return routes_from_functions(template.functions(stack), apis, implicit_api(template.stack_name))


def parse(text: str) -> Template:
    return Template.parse(
        text, directory=ECHO_TEMPLATE.parent, stack_name="s", region=DEFAULT_REGION, account_id=ACCOUNT_ID
    )


def test_an_explicit_api_brings_its_stage_variables_and_binary_media_types() -> None:
    template = Template.load(ECHO_TEMPLATE, stack_name="s", region=DEFAULT_REGION, account_id=ACCOUNT_ID)

    (api,) = rest_apis(template, fake_stack(template))

    assert (api.logical_id, api.api_id, api.stage) == ("EchoApi", "ref:EchoApi", "test")
    assert api.stage_variables == {"flavour": "vanilla"}
    assert api.binary_media_types == ("application/octet-stream", "image/png")


def test_every_api_event_is_a_route_and_one_without_rest_api_id_goes_to_the_implicit_api() -> None:
    template = Template.load(ECHO_TEMPLATE, stack_name="s", region=DEFAULT_REGION, account_id=ACCOUNT_ID)

    routes = routes_of(template)

    assert [(r.method, r.path, r.function_id, r.api.logical_id) for r in routes] == [
        ("GET", "/customers/{id}", "EchoFunction", "EchoApi"),
        ("ANY", "/customers/{id}/orders", "EchoFunction", "EchoApi"),
        ("ANY", "/files/{proxy+}", "EchoFunction", "EchoApi"),
        ("GET", "/", "EchoFunction", "EchoApi"),
        ("POST", "/uploads", "UploadFunction", "EchoApi"),
        ("POST", "/boom", "FailingFunction", "ServerlessRestApi"),
        ("GET", "/malformed", "MalformedFunction", "ServerlessRestApi"),
        ("GET", "/slow", "SlowFunction", "EchoApi"),
    ]
    implicit = routes[5].api
    assert (implicit.stage, implicit.api_id) == ("Prod", local_api_id("s", "ServerlessRestApi"))


FUNCTION = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../functions/api_echo/
      Handler: app.echo
      Runtime: python3.13
      Events:
        Bad:
          Type: Api
          Properties: {properties}
"""


@pytest.mark.parametrize(
    ("properties", "problem"),
    [
        ("{Path: /a, Method: fetch}", r"Events\.Bad\.Properties\.Method: 'fetch' is not an HTTP method"),
        ("{Method: get}", r"Events\.Bad\.Properties\.Path: every Api event needs a Path"),
        ("{Path: '/a/{x}.json', Method: get}", r"Events\.Bad\.Properties\.Path: .* a whole segment"),
        ("{Path: /a, Method: get, RestApiId: nope}", r"RestApiId: 'nope' is not an AWS::Serverless::Api"),
    ],
)
def test_a_wrong_api_event_is_a_template_error_naming_where(properties: str, problem: str) -> None:
    template = parse(FUNCTION.format(properties=properties))

    with pytest.raises(TemplateError, match=problem):
        routes_of(template)


def test_an_api_needs_a_stage_name() -> None:
    template = parse("Resources:\n  Api:\n    Type: AWS::Serverless::Api\n    Properties: {}\n")

    with pytest.raises(TemplateError, match=r"Resources\.Api\.Properties\.StageName is required"):
        rest_apis(template, fake_stack(template))
