"""Shared domain package of the Nova customization pipeline: used by every Lambda and by the `nova-pipeline` CLI."""

__version__ = "0.1.0"
