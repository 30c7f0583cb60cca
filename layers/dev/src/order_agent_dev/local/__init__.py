"""Helpers for running the system on one machine (development and tests only)."""
