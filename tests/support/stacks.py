"""A stack of a test's own in the session's local servers."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from prism_local.stack.control import stack_up

if TYPE_CHECKING:
    from prism_local.config import LocalConfig


def provision_stack(local_servers: LocalConfig, name_prefix: str = "t") -> LocalConfig:
    """template.yaml provisioned into the session's moto (and its database, user and search indices) under a
    new stack name, ``<name_prefix><8 hex digits>``, so nothing another test wrote is visible."""
    config = local_servers.with_overrides(stack_name=f"{name_prefix}{uuid.uuid4().hex[:8]}")
    stack_up(config)
    return config
