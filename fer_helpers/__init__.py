"""Helpers for the Breuer & Kimmel (2017) reproduction book."""
