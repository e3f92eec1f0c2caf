"""Validate a dataset against its knowledge base before training; write the report."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
