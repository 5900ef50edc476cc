"""Helpers for the Breuer & Kimmel (2017) reproduction book."""

__version__ = "0.1.0"
