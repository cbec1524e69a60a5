"""Merito: verifiable micro-credentials and skills-based hiring."""

__version__ = "0.1.0"
