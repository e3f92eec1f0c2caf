"""Compile the signed GRN, deduce (Eq. 1), measure inconsistency (Eq. 2)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
