"""A Distributed Map's ResultWriter as AWS runs it, for moto's interpreter (which writes only an empty manifest).

AWS writes the child executions' results under `<Prefix>/<map run id>/`: `SUCCEEDED_0.json` and `FAILED_0.json`
(arrays of `{Status, Output, ...}`) and `manifest.json` listing them, as the state machine's role, and returns
`{MapRunArn, ResultWriterDetails: {Bucket, Key}}` to the state instead of the results (Step Functions developer
guide, "ResultWriter (Map)"). The IAM the role needs for it is checked as AWS documents it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nova_pipeline.local.iam import Authorizer, need


@contextmanager
def results_written_to_s3(authorizer: Authorizer | None) -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
        resource_eval_s3,
    )
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    evaluator = resource_eval_s3.ResourceEvalS3
    original = evaluator.__dict__["_handle_put_object"]

    def handle_put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        parameters = env.stack.pop()
        results = env.stack.pop()
        bucket = parameters["Bucket"]
        prefix = parameters.get("Prefix", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        run_arn = env.map_run_record_pool_manager.get_all().pop().map_run_arn
        folder = f"{prefix}{run_arn.split(':')[-1]}/"
        if authorizer is not None:
            # Step Functions developer guide, "IAM policies for ResultWriter": the role writes the result files.
            objects = f"arn:aws:s3:::{bucket}/{folder}*"
            key_arn = authorizer.keys.buckets.get(bucket)
            needs = [
                need("s3:PutObject", objects),
                need("s3:GetObject", objects),
                need("s3:ListMultipartUploadParts", objects),
                need("s3:AbortMultipartUpload", objects),
            ]
            if key_arn:
                needs += [need("kms:GenerateDataKey", key_arn), need("kms:Decrypt", key_arn)]
            # A Distributed Map runs its items as child executions of the state machine, with its role (Step
            # Functions developer guide, "IAM policies for Distributed Map": StartExecution on the state machine,
            # DescribeExecution and StopExecution on its executions).
            machine = authorizer.state_machine_arn
            executions = machine.replace(":stateMachine:", ":execution:") + f"/{run_arn.split(':')[-1]}"
            needs += [
                need("states:StartExecution", machine),
                need("states:DescribeExecution", executions),
                need("states:StopExecution", executions),
            ]
            authorizer.check(authorizer.principal(), "Distributed Map", needs)
        s3 = boto_client_for(service="s3", region=resource_runtime_part.region, state_credentials=state_credentials)
        files: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
        for status in ("SUCCEEDED", "FAILED"):
            entries = [
                {"Status": status, "Output": json.dumps(result)}
                if status == "SUCCEEDED"
                else {"Status": status, "Error": "States.TaskFailed"}
                for result in results
                if (result is not None) == (status == "SUCCEEDED")
            ]
            if entries:
                key = f"{folder}{status}_0.json"
                body = json.dumps(entries).encode()
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                files[status].append({"Key": key, "Size": len(body)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": run_arn, "ResultFiles": files}
        s3.put_object(Bucket=bucket, Key=f"{folder}manifest.json", Body=json.dumps(manifest).encode())
        env.stack.append(
            {"MapRunArn": run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": f"{folder}manifest.json"}}
        )

    evaluator._handle_put_object = staticmethod(handle_put_object)  # type: ignore[method-assign]
    try:
        yield
    finally:
        evaluator._handle_put_object = original  # type: ignore[method-assign]
