"""The Powertools tracer (X-Ray subsegments for the handler and boto3 calls), shared by the pipeline handlers."""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer()
