"""Powertools logger, tracer and metrics, created once per container and shared by every handler.

Service name, log level and metrics namespace come from the POWERTOOLS_* environment variables that the
`PipelineFunction` construct sets.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
