"""The security properties that matter most, asserted on template.yaml itself, so a later edit cannot quietly
undo them: TLS and IAM on the database path, encryption everywhere, nothing public, no wildcard actions,
and an alarm on everything that can fail silently.

cfn-lint and checkov check much of this too, but by rules that may be skipped per resource; these are the
properties this project promises, checked without exceptions.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from prism_local.config import REPO_ROOT
from prism_local.template.yaml_loader import load_yaml

TEMPLATE: Final = load_yaml(REPO_ROOT / "template.yaml")
RESOURCES: Final[dict[str, dict[str, Any]]] = TEMPLATE["Resources"]


def of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r.get("Properties", {}) for name, r in RESOURCES.items() if r["Type"] == resource_type}


def branches(value: Any) -> list[Any]:
    """Every value ``value`` can take: both branches of an Fn::If (recursively), else the value itself."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, when_true, when_false = value["Fn::If"]
        return branches(when_true) + branches(when_false)
    return [value]


def statements(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every IAM policy statement anywhere in ``node`` (inline policies, SAM policy statements, resource
    policies, key policies), with where it is."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            found.append((path, node))
        for key, value in node.items():
            found += statements(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += statements(value, f"{path}[{index}]")
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- the database path


def test_the_proxy_requires_tls_and_iam_and_takes_its_credentials_from_the_generated_secret() -> None:
    (proxy,) = of_type("AWS::RDS::DBProxy").values()

    assert proxy["RequireTLS"] is True
    (auth,) = proxy["Auth"]
    assert auth["IAMAuth"] == "REQUIRED"
    assert auth["SecretArn"] == {"Ref": "RelationalDbSecret"}
    secret = RESOURCES["RelationalDbSecret"]["Properties"]
    assert "GenerateSecretString" in secret
    assert "SecretString" not in secret  # generated, never a literal


def test_aurora_is_encrypted_uses_iam_auth_and_has_no_literal_password() -> None:
    (cluster_name, cluster), *_ = of_type("AWS::RDS::DBCluster").items()

    assert cluster["StorageEncrypted"] is True
    assert cluster["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert cluster["EnableIAMDatabaseAuthentication"] is True
    assert cluster["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in cluster
    assert set(cluster["EnableCloudwatchLogsExports"]) >= {"audit", "error", "slowquery"}
    assert cluster["DeletionProtection"] == {"Fn::If": ["IsProd", True, False]}
    assert RESOURCES[cluster_name]["DeletionPolicy"] == "Snapshot"
    parameters = RESOURCES[cluster["DBClusterParameterGroupName"]["Ref"]]["Properties"]["Parameters"]
    assert parameters["require_secure_transport"] == "ON"
    for instance in of_type("AWS::RDS::DBInstance").values():
        assert instance["PubliclyAccessible"] is False


def test_only_the_proxy_and_the_admin_functions_reach_the_database() -> None:
    ingress = RESOURCES["DatabaseSecurityGroup"]["Properties"]["SecurityGroupIngress"]

    assert {rule["SourceSecurityGroupId"]["Ref"] for rule in ingress} == {
        "ProxySecurityGroup",
        "AdminFunctionSecurityGroup",
    }
    assert all(rule["FromPort"] == rule["ToPort"] == 3306 for rule in ingress)
    for group in of_type("AWS::EC2::SecurityGroup").values():
        for rule in group.get("SecurityGroupIngress", []):
            assert "CidrIp" not in rule, "ingress only from security groups, never from an address range"


# ---------------------------------------------------------------- OpenSearch and the cache


def test_the_search_domain_is_private_encrypted_and_https_only() -> None:
    (domain,) = of_type("AWS::OpenSearchService::Domain").values()

    assert domain["EncryptionAtRestOptions"]["Enabled"] is True
    assert domain["NodeToNodeEncryptionOptions"]["Enabled"] is True
    assert domain["DomainEndpointOptions"]["EnforceHTTPS"] is True
    assert domain["DomainEndpointOptions"]["TLSSecurityPolicy"].startswith("Policy-Min-TLS-1-2")
    assert "VPCOptions" in domain
    (statement,) = domain["AccessPolicies"]["Statement"]
    assert statement["Principal"]["AWS"] == [
        {"Fn::GetAtt": ["SearchFunctionRole", "Arn"]},
        {"Fn::GetAtt": ["ApiFunctionRole", "Arn"]},
        {"Fn::GetAtt": ["SearchReindexFunctionRole", "Arn"]},
    ]


def test_the_cache_is_encrypted_and_reachable_only_from_the_functions() -> None:
    (cache,) = of_type("AWS::ElastiCache::ServerlessCache").values()

    assert cache["KmsKeyId"] == {"Ref": "DataKey"}  # in transit: always TLS on serverless caches
    ingress = RESOURCES["CacheSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert [rule["SourceSecurityGroupId"] for rule in ingress] == [{"Ref": "FunctionSecurityGroup"}]
    cache_urls = [
        function["Environment"]["Variables"]["CACHE_URL"]
        for function in of_type("AWS::Serverless::Function").values()
        if "CACHE_URL" in function.get("Environment", {}).get("Variables", {})
    ]
    for url in cache_urls:
        created = url["Fn::If"][1]
        assert created["Fn::Sub"].startswith("rediss://"), "the created cache is reached over TLS"


# ---------------------------------------------------------------- storage: encrypted and never public


@pytest.mark.parametrize("name", sorted(of_type("AWS::S3::Bucket")))
def test_every_bucket_is_private_encrypted_and_tls_only(name: str) -> None:
    bucket = RESOURCES[name]["Properties"]

    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"aws:kms", "AES256"}
    policies = [p for p in of_type("AWS::S3::BucketPolicy").values() if p["Bucket"] == {"Ref": name}]
    denies_plain_http = [
        s
        for policy in policies
        for s in policy["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert denies_plain_http, f"{name} must deny requests without TLS"


def test_the_lake_is_encrypted_with_the_data_key_and_logged() -> None:
    lake = RESOURCES["LakeBucket"]["Properties"]

    (rule,) = lake["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["DataKey", "Arn"]},
    }
    assert rule["BucketKeyEnabled"] is True
    assert lake["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "LakeAccessLogBucket"}
    transitions = next(r for r in lake["LifecycleConfiguration"]["Rules"] if "Transitions" in r)["Transitions"]
    assert [t["TransitionInDays"] for t in transitions] == [
        {"Ref": "LakeInfrequentAccessDays"},
        {"Ref": "LakeGlacierDays"},
    ]


@pytest.mark.parametrize(
    ("resource_type", "key"),
    [
        ("AWS::SQS::Queue", "KmsMasterKeyId"),
        ("AWS::SNS::Topic", "KmsMasterKeyId"),
        ("AWS::Logs::LogGroup", "KmsKeyId"),
        ("AWS::SecretsManager::Secret", "KmsKeyId"),
    ],
)
def test_queues_topics_logs_and_secrets_are_encrypted_with_the_data_key(resource_type: str, key: str) -> None:
    resources = of_type(resource_type)
    assert resources
    for name, properties in resources.items():
        assert key in properties, f"{name} has no {key}"


def test_tables_are_encrypted_with_the_data_key() -> None:
    for name, table in of_type("AWS::DynamoDB::Table").items():
        assert table["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Ref": "DataKey"},
        }, name


# ---------------------------------------------------------------- IAM: least privilege


#: Actions that act on no resource, for which IAM accepts only "*" as the resource.
RESOURCELESS_ACTIONS: Final = frozenset({"secretsmanager:GetRandomPassword"})


def test_no_statement_allows_a_wildcard_action() -> None:
    wildcards = []
    for path, statement in statements(RESOURCES):
        if statement["Effect"] != "Allow":
            continue
        if path.startswith(".DataKey.Properties.KeyPolicy") and statement.get("Sid") == "AccountAdministers":
            continue  # a key policy must let the account administer its key (else the key is unmanageable)
        for action in as_list(statement.get("Action", [])):
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                wildcards.append((path, action))
        assert "NotAction" not in statement, path
    assert wildcards == []


def test_no_allow_statement_grants_a_data_action_on_every_resource() -> None:
    broad = []
    for path, statement in statements(RESOURCES):
        if statement["Effect"] != "Allow" or path.startswith(".DataKey.Properties.KeyPolicy"):
            continue  # key policy statements name the key itself as "*" (the policy's own key)
        for resource in as_list(statement.get("Resource", [])):
            if resource == "*" and not set(as_list(statement["Action"])) <= RESOURCELESS_ACTIONS:
                broad.append((path, statement["Action"]))
    assert broad == []


def test_rds_connect_is_scoped_to_one_proxy_user() -> None:
    for name in ("RelationalFunction", "MigrationFunction"):
        connect = [s for _, s in statements(RESOURCES[name]) if s["Action"] == "rds-db:connect"]
        assert connect, name
        for statement in connect:
            resource = statement["Resource"]
            text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
            assert text.endswith("/${DbUser}")
            assert ":dbuser:" in text


# ---------------------------------------------------------------- operations


def test_every_function_has_a_log_group_with_retention() -> None:
    functions = set(of_type("AWS::Serverless::Function"))
    logged = {
        group["LogGroupName"]["Fn::Sub"].removeprefix("/aws/lambda/${").removesuffix("}")
        for group in of_type("AWS::Logs::LogGroup").values()
        if "LogGroupName" in group
    }
    assert functions <= logged
    for group in of_type("AWS::Logs::LogGroup").values():
        assert "RetentionInDays" in group


def alarmed() -> set[tuple[str, str]]:
    """(metric, the resource its first dimension names) of every alarm."""
    pairs = set()
    for alarm in of_type("AWS::CloudWatch::Alarm").values():
        value = alarm["Dimensions"][0]["Value"]
        target = value.get("Ref") or value.get("Fn::GetAtt", [""])[0] if isinstance(value, dict) else value
        pairs.add((alarm["MetricName"], target))
    return pairs


def test_what_can_fail_silently_raises_an_alarm() -> None:
    pairs = alarmed()
    functions = set(of_type("AWS::Serverless::Function"))
    queues = {name for name in of_type("AWS::SQS::Queue") if "DeadLetter" in name or "Failure" in name}

    assert ("IteratorAge", "FanoutFunction") in pairs
    assert {f for metric, f in pairs if metric == "Errors"} == functions
    # Invoked one at a time by CloudFormation, Secrets Manager or an operator, never by traffic.
    invoked_on_demand = {"MigrationFunction", "DbSecretRotationFunction", "SearchReindexFunction"}
    assert {f for metric, f in pairs if metric == "Throttles"} >= functions - invoked_on_demand
    assert {q for metric, q in pairs if metric == "ApproximateNumberOfMessagesVisible"} == queues
    metrics = {metric for metric, _ in pairs}
    assert {"5XXError", "Latency", "DatabaseConnections", "AvailabilityPercentage", "ClusterStatus.red"} <= metrics
    for alarm in of_type("AWS::CloudWatch::Alarm").values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_dashboard_follows_the_pipeline() -> None:
    (dashboard,) = of_type("AWS::CloudWatch::Dashboard").values()
    body = dashboard["DashboardBody"]["Fn::Sub"][0]
    for metric in ("Latency", "IteratorAge", "ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"):
        assert metric in body
