"""Fixtures of disbursement's tests: a started disbursement service and its `http`."""

from tests.support.fixtures import started_service

disbursement, runtime = started_service("disbursement")
