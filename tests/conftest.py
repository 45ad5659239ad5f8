"""Fixtures shared by every suite under tests/ (pyproject puts tests/ on sys.path)."""

from moto_kit import aws, moto_endpoint

__all__ = ["aws", "moto_endpoint"]
