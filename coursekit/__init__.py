"""Shared tools of the course: datasets, checking helpers for assignments and tests, plotting.

Nothing here implements course content; that lives in :mod:`nn_reference`.
"""
