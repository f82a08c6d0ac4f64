"""Powertools logger and metrics, created once per container and shared by every handler.

Service name, log level and metrics namespace come from the POWERTOOLS_* environment variables that the
`PipelineFunction` construct sets. The tracer lives in `nova_pipeline.core.tracing`: importing the X-Ray SDK costs
about 190 ms of cold start, which the latency-sensitive inference function does without (Lambda's active tracing
still records its segment).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
