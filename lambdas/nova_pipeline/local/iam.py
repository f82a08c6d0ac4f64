"""IAM in the offline twin: every call it serves is authorized against the synthesized policies of the principal that
really makes it, and denied as AWS denies it (`AccessDeniedException`).

- `PolicyBook` reads every identity policy of the synthesized templates (roles' attached and inline policies) with
  CloudFormation's intrinsic functions resolved, statement by statement.
- `requirements()` turns one API call into what IAM checks for it: the actions, the resource ARNs, the condition
  keys, and the KMS key use the call implies (an S3 object in an SSE-KMS bucket, a SecureString, an encrypted
  custom model). The table follows the Service Authorization Reference and the service user guides (sources next to
  each rule); it covers the calls the pipeline makes and fails loudly on any other call, so nothing is waved through.
- `Authorizer` decides, records which statements granted each call (for the coverage analysis: a statement that is
  never the only grant of any call made by the tests is not needed), and raises `AccessDenied` otherwise.

The principal comes from a context variable: the twin's own set-up runs as the administrator (unchecked), a Lambda
invocation runs as the function's role, a simulated job's reads and writes run as the service role passed to it,
and everything else, the Step Functions interpreter's threads, runs as the state machine's role.
"""

from __future__ import annotations

import contextvars
import fnmatch
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from nova_pipeline.local.template import ACCOUNT, REGION, CloudAssembly

ADMIN = "admin"
STATE_MACHINE = "state-machine"
_principal: contextvars.ContextVar[str] = contextvars.ContextVar("nova_twin_principal", default=STATE_MACHINE)

# Inference profiles route to the foundation model in each of these regions (Bedrock user guide, "Supported Regions
# and models for inference profiles": the US profiles span us-east-1, us-east-2 and us-west-2).
PROFILE_REGIONS = {"us": ("us-east-1", "us-east-2", "us-west-2")}


class AccessDenied(Exception):  # noqa: N818 - mirrors the AWS error code
    """What AWS answers when no identity policy statement allows the call."""

    def __init__(self, principal: str, action: str, resource: str) -> None:
        self.principal, self.action, self.resource = principal, action, resource
        super().__init__(
            f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
            "because no identity-based policy allows the " + action + " action"
        )


@contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """Run the block as `principal` (a role ARN, or ADMIN for the twin's own set-up)."""
    token = _principal.set(principal)
    try:
        yield
    finally:
        _principal.reset(token)


def current_principal() -> str:
    return _principal.get()


@contextmanager
def principals_follow_thread_pools() -> Iterator[None]:
    """Work a function hands to a thread pool (boto3's transfer manager) runs with the function's credentials, as
    in Lambda; only the Step Functions interpreter's own threads start without a principal."""
    original = ThreadPoolExecutor.submit

    def submit(self: ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return original(self, contextvars.copy_context().run, fn, *args, **kwargs)

    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        ThreadPoolExecutor.submit = original  # type: ignore[method-assign]


# ------------------------------------------------------------------------------------------------ policies
@dataclass(frozen=True)
class Statement:
    """One allow statement of a role's identity policy, with where it comes from."""

    role_arn: str
    source: str  # "<stack>/<policy logical id>#<index>"
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, Any]]

    def matches(self, action: str, resource: str, context: Mapping[str, str]) -> bool:
        return (
            any(_glob(pattern.lower(), action.lower()) for pattern in self.actions)
            and any(_glob(pattern, resource) for pattern in self.resources)
            and all(_condition(op, values, context) for op, values in self.conditions.items())
        )

    def describe(self) -> str:
        return f"{self.source}: {', '.join(self.actions)} on {', '.join(self.resources)}"


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition(operator: str, values: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for key, expected in values.items():
        actual = context.get(key)
        if actual is None:
            return False  # a missing key never matches (no ...IfExists operators are used)
        wanted = [str(item) for item in _as_list(expected)]
        if operator in ("StringEquals", "ArnEquals"):
            ok = actual in wanted
        elif operator in ("StringLike", "ArnLike"):
            ok = any(_glob(pattern, actual) for pattern in wanted)
        elif operator == "Bool":
            ok = actual.lower() in (item.lower() for item in wanted)
        else:
            raise NotImplementedError(f"condition operator {operator} is not evaluated by the twin")
        if not ok:
            return False
    return True


@dataclass
class PolicyBook:
    """Every allow statement of the synthesized templates, by role ARN."""

    statements: dict[str, list[Statement]] = field(default_factory=dict)
    role_names: dict[str, str] = field(default_factory=dict)  # role ARN -> "<stack>/<logical id>"
    trust: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # role ARN -> its trust policy statements

    @classmethod
    def from_assembly(cls, assembly: CloudAssembly) -> PolicyBook:
        book = cls()
        roles = {(r.stack, r.logical_id): r for r in assembly.of_type("AWS::IAM::Role")}
        for (stack, logical_id), role in roles.items():
            book.role_names[role.arn] = f"{stack}/{logical_id}"
            trust = assembly.resolve(stack, role.properties.get("AssumeRolePolicyDocument", {}))
            book.trust[role.arn] = list(trust.get("Statement", []))
            for policy in role.properties.get("Policies", []):
                book._add(role.arn, f"{stack}/{logical_id}.{policy['PolicyName']}", policy, assembly, stack)
        # Customer managed policies attached to a role count too: CDK moves the statements of a role's policy that
        # outgrows IAM's size limit into `OverflowPolicy<n>` managed policies (aws-iam Role.splitLargePolicy).
        for policy in [*assembly.of_type("AWS::IAM::Policy"), *assembly.of_type("AWS::IAM::ManagedPolicy")]:
            for reference in policy.properties.get("Roles", []):
                role = roles[(policy.stack, reference["Ref"])]
                book._add(role.arn, f"{policy.stack}/{policy.logical_id}", policy.properties, assembly, policy.stack)
        return book

    def _add(self, role_arn: str, source: str, policy: Mapping[str, Any], assembly: CloudAssembly, stack: str) -> None:
        document = assembly.resolve(stack, policy["PolicyDocument"])
        for index, statement in enumerate(document["Statement"]):
            if statement.get("Effect") != "Allow" or "NotAction" in statement or "NotResource" in statement:
                raise NotImplementedError(f"{source}#{index}: only Allow statements with Action/Resource are used")
            self.statements.setdefault(role_arn, []).append(
                Statement(
                    role_arn=role_arn,
                    source=f"{source}#{index}",
                    actions=tuple(_as_list(statement["Action"])),
                    resources=tuple(str(r) for r in _as_list(statement["Resource"])),
                    conditions=statement.get("Condition", {}),
                )
            )

    def granting(self, role_arn: str, action: str, resource: str, context: Mapping[str, str]) -> list[Statement]:
        return [s for s in self.statements.get(role_arn, []) if s.matches(action, resource, context)]

    def trusts(self, role_arn: str, service: str, context: Mapping[str, str]) -> bool:
        """Whether the role's trust policy lets `service` assume it with the request's condition keys."""
        for statement in self.trust.get(role_arn, []):
            services = _as_list(statement.get("Principal", {}).get("Service", []))
            if (
                statement.get("Effect") == "Allow"
                and "sts:AssumeRole" in _as_list(statement.get("Action", []))
                and service in services
                and all(_condition(op, values, context) for op, values in statement.get("Condition", {}).items())
            ):
                return True
        return False


# ------------------------------------------------------------------------------------------ requirements
@dataclass(frozen=True)
class Need:
    """One authorization IAM evaluates for a call: an action on a resource, with the request's condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


def need(action: str, resource: str, **context: str) -> Need:
    return Need(action, resource, tuple((key.replace("__", ":"), value) for key, value in context.items()))


def s3_object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def bedrock_arn(resource: str, *, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:bedrock:{region}:{account}:{resource}"


def foundation_model(model_id: str, region: str = REGION) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def model_invocation(model_id: str) -> list[str]:
    """The resources InvokeModel is checked on for a model id: a profile is checked with every model it routes to
    (Bedrock user guide, "Prerequisites for inference profiles")."""
    if model_id.startswith("arn:"):
        return [model_id]
    prefix = model_id.split(".", 1)[0]
    if prefix in PROFILE_REGIONS:
        base = model_id.split(".", 1)[1]
        return [bedrock_arn(f"inference-profile/{model_id}")] + [
            foundation_model(base, region) for region in PROFILE_REGIONS[prefix]
        ]
    return [foundation_model(model_id)]


class KeyDirectory:
    """Which KMS key protects what: buckets' default encryption, SecureString parameters, custom models, topics."""

    def __init__(self, assembly: CloudAssembly) -> None:
        self.buckets: dict[str, str] = {}
        self.topics: dict[str, str] = {}
        for bucket in assembly.of_type("AWS::S3::Bucket"):
            encryption = assembly.resolve(bucket.stack, bucket.properties.get("BucketEncryption", {}))
            for rule in encryption.get("ServerSideEncryptionConfiguration", []):
                default = rule.get("ServerSideEncryptionByDefault", {})
                if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
                    self.buckets[bucket.physical_id] = self._key_arn(str(default["KMSMasterKeyID"]))
        for topic in assembly.of_type("AWS::SNS::Topic"):
            key = assembly.resolve(topic.stack, topic.properties.get("KmsMasterKeyId"))
            if key:
                self.topics[topic.arn] = self._key_arn(str(key))
        self.parameters: dict[str, str] = {}
        self.models: dict[str, str] = {}  # custom model name or ARN -> key ARN

    @staticmethod
    def _key_arn(key: str) -> str:
        return key if key.startswith("arn:") else f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"


def _tags_need(resource: str, service: str = "bedrock") -> Need:
    return need(f"{service}:TagResource" if service == "bedrock" else "sagemaker:AddTags", resource)


def _pass_role(role_arn: str, service: str) -> Need:
    # iam:PassRole is checked on the role with the service it is passed to (IAM user guide, "Granting a user
    # permissions to pass a role to an AWS service").
    return need("iam:PassRole", role_arn, iam__PassedToService=service)


def requirements(service: str, operation: str, params: Mapping[str, Any], keys: KeyDirectory) -> list[Need]:  # noqa: PLR0911, PLR0912
    """What IAM checks for one call of the pipeline's code (Service Authorization Reference, per service)."""
    if service == "s3":
        bucket = str(params.get("Bucket", ""))
        key_arn = keys.buckets.get(bucket)
        if operation == "PutBucketNotificationConfiguration":
            return [need("s3:PutBucketNotification", f"arn:aws:s3:::{bucket}")]
        if operation in ("ListObjectsV2", "ListObjects"):
            return [need("s3:ListBucket", f"arn:aws:s3:::{bucket}", s3__prefix=str(params.get("Prefix", "")))]
        target = s3_object(bucket, str(params.get("Key", "")))
        if operation == "HeadObject":
            return [need("s3:GetObject", target)]
        if operation == "GetObject":
            # Reading an SSE-KMS object decrypts its data key (S3 user guide, "Using SSE-KMS"); reading a given
            # version is s3:GetObjectVersion (S3 API reference, GetObject: "Permissions").
            action = "s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"
            return [need(action, target)] + ([need("kms:Decrypt", key_arn)] if key_arn else [])
        if operation in ("PutObject", "CreateMultipartUpload"):
            return [need("s3:PutObject", target)] + ([need("kms:GenerateDataKey", key_arn)] if key_arn else [])
        if operation in ("UploadPart", "CompleteMultipartUpload"):
            # Multipart uploads to SSE-KMS need kms:Decrypt too (S3 user guide, "Multipart upload and permissions").
            return [need("s3:PutObject", target)] + ([need("kms:Decrypt", key_arn)] if key_arn else [])
        if operation == "AbortMultipartUpload":
            return [need("s3:AbortMultipartUpload", target)]
        if operation == "DeleteObject":
            return [need("s3:DeleteObject", target)]
        if operation == "DeleteObjects":
            return [need("s3:DeleteObject", s3_object(bucket, o["Key"])) for o in params["Delete"]["Objects"]]
    if service == "ssm":
        name = str(params["Name"]).split(":", 1)[0]
        arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}"
        if operation in ("GetParameter", "GetParameterHistory"):
            key_arn = keys.parameters.get(name)
            decrypt = [need("kms:Decrypt", key_arn)] if key_arn and params.get("WithDecryption") else []
            return [need(f"ssm:{operation}", arn), *decrypt]
        if operation == "PutParameter":
            # A standard SecureString is encrypted with kms:Encrypt (Systems Manager user guide, "How Parameter
            # Store uses AWS KMS").
            key_id = params.get("KeyId")
            encrypt = [need("kms:Encrypt", KeyDirectory._key_arn(str(key_id)))] if key_id else []
            return [need("ssm:PutParameter", arn), *encrypt]
    if service == "sns" and operation == "Publish":
        topic = str(params["TopicArn"])
        key_arn = keys.topics.get(topic)
        kms = [need("kms:GenerateDataKey", key_arn), need("kms:Decrypt", key_arn)] if key_arn else []
        return [need("sns:Publish", topic), *kms]
    if service == "stepfunctions" and operation == "StartExecution":
        return [need("states:StartExecution", str(params["stateMachineArn"]))]
    if service == "lambda" and operation == "Invoke":
        name = str(params["FunctionName"])
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        return [need("lambda:InvokeFunction", arn)]
    if service == "bedrock":
        return _bedrock(operation, params, keys)
    if service == "bedrock-runtime" and operation in ("Converse", "ConverseStream"):
        action = "bedrock:InvokeModel" if operation == "Converse" else "bedrock:InvokeModelWithResponseStream"
        model_id = str(params["modelId"])
        needs = [need(action, resource) for resource in model_invocation(model_id)]
        key_arn = keys.models.get(model_id)
        if key_arn:  # an encrypted custom model (Nova user guide, "Encryption of custom models": invokers)
            needs += [need("kms:Decrypt", key_arn), need("kms:GenerateDataKey", key_arn)]
        guardrail = (params.get("guardrailConfig") or {}).get("guardrailIdentifier")
        if guardrail:  # Bedrock user guide, "Set up permissions to use Amazon Bedrock Guardrails"
            arn = str(guardrail) if str(guardrail).startswith("arn:") else bedrock_arn(f"guardrail/{guardrail}")
            needs.append(need("bedrock:ApplyGuardrail", arn))
        return needs
    if service == "sagemaker":
        return _sagemaker(operation, params)
    raise NotImplementedError(f"the twin has no IAM rule for {service}:{operation}; add one to local/iam.py")


def _base_model(identifier: str) -> str:
    """The resource a customization job's base model is: a custom model's ARN as given (a later stage of a
    multi-stage run), else the foundation model."""
    return identifier if ":custom-model/" in identifier else foundation_model(identifier)


def _bedrock(operation: str, params: Mapping[str, Any], keys: KeyDirectory) -> list[Need]:  # noqa: PLR0911, PLR0912
    if operation == "CreateModelCustomizationJob":
        job = bedrock_arn(f"model-customization-job/{params['jobName']}")
        model = bedrock_arn(f"custom-model/{params['customModelName']}")
        needs = [
            need("bedrock:CreateModelCustomizationJob", job),
            need("bedrock:CreateModelCustomizationJob", model),
            need("bedrock:CreateModelCustomizationJob", _base_model(str(params["baseModelIdentifier"]))),
            _pass_role(str(params["roleArn"]), "bedrock.amazonaws.com"),
        ]
        if params.get("jobTags"):
            needs.append(_tags_need(job))
        if params.get("customModelTags"):
            needs.append(_tags_need(model))
        key = params.get("customModelKmsKeyId")
        if key:  # Bedrock user guide, "Encryption of custom models": the creating identity uses the key
            needs += [
                need(action, str(key)) for action in ("kms:DescribeKey", "kms:GenerateDataKey", "kms:CreateGrant")
            ]
        return needs
    if operation in ("GetModelCustomizationJob", "StopModelCustomizationJob"):
        identifier = str(params["jobIdentifier"])
        arn = identifier if identifier.startswith("arn:") else bedrock_arn(f"model-customization-job/{identifier}")
        return [need(f"bedrock:{operation}", arn)]
    if operation == "CreateCustomModel":
        model = bedrock_arn(f"custom-model/{params['modelName']}")
        needs = [need("bedrock:CreateCustomModel", model), _pass_role(str(params["roleArn"]), "bedrock.amazonaws.com")]
        if params.get("modelTags"):
            needs.append(_tags_need(model))
        if params.get("modelKmsKeyArn"):
            needs += [need(a, str(params["modelKmsKeyArn"])) for a in ("kms:DescribeKey", "kms:CreateGrant")]
        return needs
    if operation in ("GetCustomModel", "DeleteCustomModel"):
        identifier = str(params["modelIdentifier"])
        arn = identifier if identifier.startswith("arn:") else bedrock_arn(f"custom-model/{identifier}")
        return [need(f"bedrock:{operation}", arn)]
    if operation in ("ListCustomModels", "ListCustomModelDeployments", "ListProvisionedModelThroughputs"):
        # List actions have no resource-level permissions (Service Authorization Reference, Amazon Bedrock).
        return [need(f"bedrock:{operation}", "*")]
    if operation == "ListTagsForResource":
        return [need("bedrock:ListTagsForResource", str(params["resourceARN"]))]
    if operation == "CreateCustomModelDeployment":
        deployment = bedrock_arn(f"custom-model-deployment/{params['modelDeploymentName']}")
        model = str(params["modelArn"])
        needs = [
            need("bedrock:CreateCustomModelDeployment", deployment),
            need("bedrock:CreateCustomModelDeployment", model),
        ]
        if params.get("tags"):
            needs.append(_tags_need(deployment))
        key_arn = keys.models.get(model)
        if key_arn:  # "If the model is encrypted with a KMS key, you must have permission to use that key"
            needs += [need("kms:Decrypt", key_arn), need("kms:GenerateDataKey", key_arn)]
        return needs
    if operation in ("GetCustomModelDeployment", "DeleteCustomModelDeployment"):
        identifier = str(params["customModelDeploymentIdentifier"])
        arn = identifier if identifier.startswith("arn:") else bedrock_arn(f"custom-model-deployment/{identifier}")
        return [need(f"bedrock:{operation}", arn)]
    if operation == "CreateProvisionedModelThroughput":
        # "CreateProvisionedModelThroughput [...] can only be used on custom model and foundation model resources"
        # (Bedrock user guide, "Identity-based policy examples for Provisioned Throughput"); tags as for deployments.
        model = str(params["modelId"])
        needs = [need("bedrock:CreateProvisionedModelThroughput", model)]
        if params.get("tags"):
            needs.append(_tags_need(bedrock_arn(f"provisioned-model/{params['provisionedModelName']}")))
        key_arn = keys.models.get(model)
        if key_arn:  # serving an encrypted custom model uses its key, as for a deployment
            needs += [need("kms:Decrypt", key_arn), need("kms:GenerateDataKey", key_arn)]
        return needs
    if operation in ("GetProvisionedModelThroughput", "DeleteProvisionedModelThroughput"):
        identifier = str(params["provisionedModelId"])
        arn = identifier if identifier.startswith("arn:") else bedrock_arn(f"provisioned-model/{identifier}")
        return [need(f"bedrock:{operation}", arn)]
    raise NotImplementedError(f"the twin has no IAM rule for bedrock:{operation}; add one to local/iam.py")


def _sagemaker(operation: str, params: Mapping[str, Any]) -> list[Need]:
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{str(params['TrainingJobName']).lower()}"
    if operation == "CreateTrainingJob":
        needs = [
            need("sagemaker:CreateTrainingJob", arn),
            _pass_role(str(params["RoleArn"]), "sagemaker.amazonaws.com"),
        ]
        if params.get("Tags"):
            needs.append(_tags_need(arn, "sagemaker"))
        return needs
    if operation in ("DescribeTrainingJob", "StopTrainingJob"):
        return [need(f"sagemaker:{operation}", arn)]
    raise NotImplementedError(f"the twin has no IAM rule for sagemaker:{operation}; add one to local/iam.py")


# ------------------------------------------------------------------------------------------------ decisions
@dataclass(frozen=True)
class Decision:
    principal: str
    call: str  # "service:Operation" or a platform action's description
    need: Need
    granted_by: tuple[str, ...]  # statement sources


@dataclass(frozen=True)
class Request:
    """One AWS request the pipeline made, with the principal that made it (for `nova-pipeline plan`)."""

    principal: str
    service: str
    operation: str
    params: dict[str, Any]


@dataclass
class Authorizer:
    """Checks each call against the principal's statements and keeps every decision for the coverage analysis."""

    book: PolicyBook
    keys: KeyDirectory
    state_machine_role: str = ""
    state_machine_arn: str = ""  # as deployed (its name in the template), for the Distributed Map's own checks
    decisions: list[Decision] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    # Tags of the resources the simulated services hold, by ARN: IAM puts them in the request context as
    # `aws:ResourceTag/<key>` (IAM user guide, "Controlling access to AWS resources using tags"); a resource without
    # the tag a condition names is refused, as in AWS.
    resource_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    assumptions: list[tuple[str, str, str, bool]] = field(default_factory=list)  # service, role, source ARN, allowed
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def principal(self) -> str:
        current = current_principal()
        return self.state_machine_role if current == STATE_MACHINE else current

    def authorize_call(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        principal = self.principal()
        if principal == ADMIN:
            return
        with self._lock:
            self.requests.append(Request(principal, service, operation, dict(params)))
        self.check(principal, f"{service}:{operation}", requirements(service, operation, params, self.keys))

    def check(self, principal: str, call: str, needs: list[Need]) -> None:
        """Allow every need or raise `AccessDenied` for the first one no statement allows."""
        for one in needs:
            context = dict(one.context)
            for key, value in self.resource_tags.get(one.resource, {}).items():
                context.setdefault(f"aws:ResourceTag/{key}", value)
            granted = self.book.granting(principal, one.action, one.resource, context)
            with self._lock:
                self.decisions.append(Decision(principal, call, one, tuple(s.source for s in granted)))
            if not granted:
                raise AccessDenied(self._name(principal), one.action, one.resource)

    def assume(self, role_arn: str, service: str, source_arn: str) -> None:
        """A service assuming the role passed to it, with the confused-deputy keys it sends (`aws:SourceAccount`,
        `aws:SourceArn`: IAM user guide, "The confused deputy problem"); AccessDenied when the trust policy refuses."""
        context = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": source_arn}
        allowed = self.book.trusts(role_arn, service, context)
        with self._lock:
            self.assumptions.append((service, role_arn, source_arn, allowed))
        if not allowed:
            raise AccessDenied(service, "sts:AssumeRole", role_arn)

    def _name(self, principal: str) -> str:
        role = principal.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/twin"


def parameter_key_from_request(params: Mapping[str, Any]) -> tuple[str, str] | None:
    """A PutParameter's SecureString key, remembered so that later reads know what they decrypt."""
    if params.get("Type") == "SecureString" and params.get("KeyId"):
        return str(params["Name"]), KeyDirectory._key_arn(str(params["KeyId"]))
    return None


def sole_grants(book: PolicyBook, decisions: Iterable[Decision]) -> dict[str, int]:
    """For each statement of `book`, how many of `decisions` it alone allowed (0: removing it breaks nothing tested)."""
    counts = {s.source: 0 for statements in book.statements.values() for s in statements}
    for decision in decisions:
        if len(decision.granted_by) == 1:
            counts[decision.granted_by[0]] += 1
    return counts
