"""Evaluation harnesses."""
