"""AWS::SQS::Queue, AWS::SNS::Topic and AWS::SNS::Subscription: the fan-out path of the pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from prism_local.stack.emulated.context import attribute_text, is_true, tag_list
from prism_local.template.model import PhysicalResource

if TYPE_CHECKING:
    from prism_local.stack.emulated.context import MotoContext


#: Queue properties that are not SQS attributes, and attributes SetQueueAttributes refuses to change.
_QUEUE_NON_ATTRIBUTES: Final = frozenset({"QueueName", "Tags"})
_QUEUE_IMMUTABLE: Final = frozenset({"FifoQueue"})


def create_queue(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """Create the queue with every property as an attribute (messages in an existing one stay).

    Ref is the queue URL; GetAtt Arn, QueueName and QueueUrl. A FIFO queue's generated name ends in ``.fifo``.
    """
    props = ctx.properties(logical_id)
    fifo = is_true(props.get("FifoQueue"))
    name = ctx.name(logical_id, props.get("QueueName"), max_length=80, suffix=".fifo" if fifo else "")
    attributes: Any = {k: attribute_text(v) for k, v in props.items() if k not in _QUEUE_NON_ATTRIBUTES}
    try:
        url = ctx.sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ctx.sqs.exceptions.QueueDoesNotExist:
        tags = {t["Key"]: t["Value"] for t in tag_list(props.get("Tags"))}
        url = ctx.sqs.create_queue(QueueName=name, Attributes=attributes, tags=tags)["QueueUrl"]
        ctx.progress(f"  {logical_id}: created queue {name}")
    else:
        mutable: Any = {k: v for k, v in attributes.items() if k not in _QUEUE_IMMUTABLE}
        if mutable:
            ctx.sqs.set_queue_attributes(QueueUrl=url, Attributes=mutable)
    arn = ctx.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return PhysicalResource(logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


_TOPIC_ATTRIBUTES: Final = frozenset(
    {"DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication", "SignatureVersion",
     "TracingConfig", "ArchivePolicy", "DeliveryPolicy", "FifoThroughputScope"}
)  # fmt: skip
_SUBSCRIPTION_ATTRIBUTES: Final = (  # FilterPolicyScope first: SNS validates FilterPolicy against it
    "FilterPolicyScope", "FilterPolicy", "RawMessageDelivery", "RedrivePolicy", "DeliveryPolicy",
    "SubscriptionRoleArn", "ReplayPolicy",
)  # fmt: skip


def _subscribe(ctx: MotoContext, topic_arn: str, protocol: str, endpoint: str, attributes: dict[str, str]) -> str:
    """Subscribe once: an existing subscription of the same endpoint is brought to ``attributes`` instead."""
    for page in ctx.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for subscription in page["Subscriptions"]:
            if subscription["Protocol"] == protocol and subscription["Endpoint"] == endpoint:
                arn = subscription["SubscriptionArn"]
                current = ctx.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
                for name, value in attributes.items():
                    if current.get(name) != value:
                        ctx.sns.set_subscription_attributes(
                            SubscriptionArn=arn, AttributeName=name, AttributeValue=value
                        )
                return arn
    response = ctx.sns.subscribe(
        TopicArn=topic_arn,
        Protocol=protocol,
        Endpoint=endpoint,
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    return response["SubscriptionArn"]


def create_topic(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """Create the topic and its inline subscriptions; Ref is the topic ARN, GetAtt TopicArn and TopicName."""
    props = ctx.properties(logical_id)
    ctx.note_ignored(logical_id, props, _TOPIC_ATTRIBUTES | {"TopicName", "Tags", "Subscription"})
    fifo = is_true(props.get("FifoTopic"))
    name = ctx.name(logical_id, props.get("TopicName"), max_length=256, suffix=".fifo" if fifo else "")
    arn = f"arn:{ctx.partition}:sns:{ctx.stack.region}:{ctx.stack.account_id}:{name}"
    attributes: Any = {k: attribute_text(v) for k, v in props.items() if k in _TOPIC_ATTRIBUTES}
    try:
        current = ctx.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    except ctx.sns.exceptions.NotFoundException:
        tags: Any = tag_list(props.get("Tags"))
        arn = ctx.sns.create_topic(Name=name, Attributes=attributes, Tags=tags)["TopicArn"]
        ctx.progress(f"  {logical_id}: created topic {name}")
    else:
        for key, value in attributes.items():
            if key != "FifoTopic" and current.get(key) != value:
                ctx.sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=value)
    for inline in props.get("Subscription", []):
        _subscribe(ctx, arn, str(inline["Protocol"]), str(inline["Endpoint"]), {})
    return PhysicalResource(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})


def create_subscription(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """Subscribe the endpoint once, with its delivery attributes; Ref is the subscription ARN."""
    props = ctx.properties(logical_id)
    ctx.note_ignored(logical_id, props, frozenset({*_SUBSCRIPTION_ATTRIBUTES, "TopicArn", "Protocol",
                                                   "Endpoint", "Region"}))  # fmt: skip
    attributes: dict[str, str] = {k: attribute_text(props[k]) for k in _SUBSCRIPTION_ATTRIBUTES if k in props}
    arn = _subscribe(ctx, str(props["TopicArn"]), str(props["Protocol"]), str(props["Endpoint"]), attributes)
    return PhysicalResource(logical_id, "AWS::SNS::Subscription", arn)
