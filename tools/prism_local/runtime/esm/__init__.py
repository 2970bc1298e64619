"""Lambda event source mappings, emulated: Prism polls DynamoDB streams and SQS queues in moto itself.

``EventSourceRunner`` is the entry point; the pure rules (filtering, batch outcomes) live in their own
modules so they can be tested without a network.
"""

from __future__ import annotations

from prism_local.runtime.esm.checkpoints import CheckpointKey, CheckpointStore
from prism_local.runtime.esm.filtering import EventFilter, FilterCriteriaError, compile_filter_criteria
from prism_local.runtime.esm.mapping_settings import EventSourceConfigError, PollerTiming
from prism_local.runtime.esm.poller_stats import PollerStats
from prism_local.runtime.esm.runner import EventSourceRunner

__all__ = [
    "CheckpointKey",
    "CheckpointStore",
    "EventFilter",
    "EventSourceConfigError",
    "EventSourceRunner",
    "FilterCriteriaError",
    "PollerStats",
    "PollerTiming",
    "compile_filter_criteria",
]
