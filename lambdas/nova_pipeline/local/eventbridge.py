"""S3 events on EventBridge, delivered to the app's rules in the twin as the services deliver them.

A bucket with EventBridge notifications on (`NotificationConfiguration.EventBridgeConfiguration`, which the twin puts
as CDK's custom resource does) sends every object event to the account's default event bus. A rule whose
`EventPattern` matches sends the event, asynchronously, to its targets; a Lambda target runs only if the function's
resource policy lets `events.amazonaws.com` invoke it for that rule (`AWS::Lambda::Permission` with the rule as
`SourceArn`: EventBridge user guide, "Using resource-based policies for Amazon EventBridge", Lambda permissions).

moto decides when a bucket sends an event (its S3 model calls `_send_event_bridge_message` for a bucket with
EventBridge on) and matches event patterns (`moto.events.models.EventPattern`, `wildcard` and `prefix` included),
but its event has a few fields of the wrong shape (`eTag`, a numeric `time`) and it delivers to no Lambda target.
The twin builds the event as the S3 user guide documents it ("Amazon EventBridge event message structure") and
delivers it to the rules of the synthesized templates through the dispatcher that runs the functions.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nova_pipeline.local.template import ACCOUNT, REGION, CloudAssembly

# The `reason` of an Object Created event, by the S3 event name moto gives (S3 user guide, EventBridge event
# message structure: "PutObject", "POST Object", "CopyObject", "CompleteMultipartUpload").
_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
}


@dataclass
class Rule:
    """An `AWS::Events::Rule` of the app on the default bus, with its Lambda targets."""

    name: str
    arn: str
    pattern: Any
    """The rule's `EventPattern`, loaded once as moto's `EventPattern` (it matches every object event)."""
    targets: list[str]
    """The function ARNs it invokes."""
    allowed: set[str]
    """The targets whose resource policy lets EventBridge invoke them for this rule."""


@dataclass
class Delivery:
    """One event sent to one target, and what came of it (for tests and the run folder's trace)."""

    rule: str
    target: str
    event: dict[str, Any]
    result: Any = None
    error: str | None = None


@dataclass
class EventBus:
    """The account's default event bus with the app's rules on it."""

    rules: list[Rule]
    invoke: Any
    """`LambdaDispatcher.invoke`: (function ARN, payload bytes) -> Invoke's response."""
    deliveries: list[Delivery] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_assembly(cls, assembly: CloudAssembly, invoke: Any) -> EventBus:
        from moto.events.models import EventPattern

        permissions = [assembly.resolve(p.stack, p.properties) for p in assembly.of_type("AWS::Lambda::Permission")]
        rules = []
        for resource in assembly.of_type("AWS::Events::Rule"):
            properties = assembly.resolve(resource.stack, resource.properties)
            if "EventPattern" not in properties or properties.get("State", "ENABLED") != "ENABLED":
                continue
            targets = [str(t["Arn"]) for t in properties.get("Targets", []) if ":lambda:" in str(t["Arn"])]
            allowed = {
                str(p["FunctionName"])
                for p in permissions
                if p.get("Principal") == "events.amazonaws.com"
                and p.get("Action") == "lambda:InvokeFunction"
                and p.get("SourceArn", resource.arn) == resource.arn
            }
            pattern = EventPattern.load(json.dumps(properties["EventPattern"]))
            rules.append(Rule(resource.physical_id, resource.arn, pattern, targets, allowed))
        return cls(rules=rules, invoke=invoke)

    def put_event(self, event: dict[str, Any]) -> list[Delivery]:
        """Match `event` against every rule and deliver it to each matching rule's targets, asynchronously."""
        sent = []
        for rule in self.rules:
            if not rule.pattern.matches_event(event):
                continue
            for target in rule.targets:
                delivery = Delivery(rule.name, target, event)
                with self._lock:
                    self.deliveries.append(delivery)
                if target not in rule.allowed:
                    delivery.error = (
                        f"AccessDeniedException: {target} has no resource policy letting events.amazonaws.com invoke "
                        f"it for {rule.arn}"
                    )
                    continue
                thread = threading.Thread(target=self._deliver, args=(delivery,), daemon=True)
                with self._lock:
                    self._threads.append(thread)
                thread.start()
                sent.append(delivery)
        return sent

    def _deliver(self, delivery: Delivery) -> None:
        response = self.invoke(delivery.target, json.dumps(delivery.event).encode())
        payload = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            delivery.error = f"{payload.get('errorType')}: {payload.get('errorMessage')}"
        else:
            delivery.result = payload

    def wait(self, timeout: float = 60.0) -> list[Delivery]:
        """Wait for every delivery started so far; the deliveries, in order."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        return list(self.deliveries)

    @contextmanager
    def receiving_s3_events(self) -> Iterator[EventBus]:
        """While active, a bucket with EventBridge on sends its object events here (in place of moto's sender)."""
        from moto.s3 import notifications

        original = notifications._send_event_bridge_message
        notifications._send_event_bridge_message = self._from_s3
        try:
            yield self
        finally:
            notifications._send_event_bridge_message = original

    def _from_s3(self, account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        self.put_event(s3_event(account_id, bucket.name, event_name, key))


def s3_event(account_id: str, bucket: str, event_name: str, key: Any) -> dict[str, Any]:
    """The EventBridge event S3 sends for `event_name` on `key` (S3 user guide, "Amazon EventBridge event message
    structure"). Object Created events carry every documented field; the others (which no rule of the app
    matches) their common ones."""
    from moto.s3.notifications import _detail_type

    created = event_name.startswith("s3:ObjectCreated:")
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": {"key": key.name, "sequencer": uuid.uuid4().hex[:16].upper()},
        "request-id": uuid.uuid4().hex[:16].upper(),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
    }
    if created:
        detail["object"].update({"size": key.size, "etag": key.etag.strip('"')})
        detail["reason"] = _REASONS.get(event_name, "PutObject")
    if key.version_id:
        detail["object"]["version-id"] = key.version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": _detail_type(event_name),
        "source": "aws.s3",
        "account": account_id or ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": detail,
    }
