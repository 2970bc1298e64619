"""`prism stack up|down|status`: the private servers plus everything template.yaml declares, provisioned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prism_local.config import ACCOUNT_ID
from prism_local.stack.lifecycle import LocalStack
from prism_local.stack.mariadb import tls_files
from prism_local.stack.provision import provision, save_stack
from prism_local.stack.relational_schema import migrate_local_database, reset_stale_projection
from prism_local.stack.relational_user import ensure_app_user, relational_target
from prism_local.stack.search_indices import prepare_search_indices, search_index_prefix, template_index_prefix
from prism_local.template.reader import Template

if TYPE_CHECKING:
    from collections.abc import Callable

    from prism_local.config import LocalConfig
    from prism_local.stack.lifecycle import StackStatus
    from prism_local.template.model import ProvisionedStack


@dataclass(frozen=True)
class StackUp:
    servers: StackStatus
    stack: ProvisionedStack
    started: tuple[str, ...]  # servers this call started (empty when everything was already up)
    moto_instance_id: str


def local_endpoint_parameters(config: LocalConfig) -> dict[str, str]:
    """Template parameters that name an endpoint which, locally, is one of the stack's private servers.

    The relational functions reach the private MariaDB as on AWS they reach RDS Proxy, over verified TLS,
    but with the stack's own database and user, and the password from its secret (DbAuth=secret). The search
    sink talks plain HTTP to the private osmem (SearchAuth=none), into indices prefixed with the stack's name.
    """
    return {
        "CacheUrl": config.redis_url,
        "DbHost": config.host,
        "DbPort": str(config.ports.mariadb),
        "DbName": config.database_name,
        "DbUser": config.database_user,
        "DbAuth": "secret",
        "DbCaBundle": str(tls_files(config.state_dir).ca_certificate),
        "SearchUrl": config.opensearch_url,
        "SearchAuth": "none",
        "SearchIndexPrefix": search_index_prefix(config),
    }


def load_template(config: LocalConfig) -> Template:
    """template.yaml with the user's overrides, and the local servers' endpoints for the parameters that
    name one (unless the user set those too)."""

    def load(overrides: dict[str, str]) -> Template:
        return Template.load(
            config.template, overrides, stack_name=config.stack_name, region=config.region, account_id=ACCOUNT_ID
        )

    template = load(config.parameter_overrides)
    endpoints = {
        name: value
        for name, value in local_endpoint_parameters(config).items()
        if name in template.parameters and name not in config.parameter_overrides
    }
    return load({**endpoints, **config.parameter_overrides}) if endpoints else template


def stack_up(config: LocalConfig, progress: Callable[[str], None] | None = None) -> StackUp:
    """Start the servers (idempotent), provision the template into moto, then give the stack its database
    (created, migrated) and app user (from its secret) in MariaDB, all idempotent as well; so `up` after
    `up` changes nothing, and `up` after a moto restart recreates every resource."""
    servers = LocalStack(config)
    before = {s.name for s in servers.status().servers if s.ready}
    status = servers.up(progress)
    template = load_template(config)
    stack = provision(template, endpoint_url=config.moto_endpoint, region=config.region, progress=progress)
    save_stack(stack, config.stack_file)
    target = relational_target(template, config)
    if reset_stale_projection(config, target.database, servers.moto_instance_id) and progress is not None:
        progress(f"relational schema: {target.database} mirrored an earlier moto (its DynamoDB is gone); reset")
    applied = migrate_local_database(config, target.database)
    if progress is not None:
        progress(f"relational schema: {len(applied)} migration(s) applied to {target.database}")
    user = ensure_app_user(config, stack, target)
    if progress is not None and user is not None:
        progress(f"relational user: {user.username} (TLS required)")
    aliases = prepare_search_indices(config, template_index_prefix(template, config))
    if progress is not None:
        progress(f"search indices: {', '.join(aliases)} ready in osmem")
    started = tuple(s.name for s in status.servers if s.name not in before)
    return StackUp(status, stack, started, servers.moto_instance_id)


def stack_down(config: LocalConfig, progress: Callable[[str], None] | None = None) -> None:
    LocalStack(config).down(progress)
    config.stack_file.unlink(missing_ok=True)


def stack_status(config: LocalConfig) -> StackStatus:
    return LocalStack(config).status()
