"""Repository-wide pytest settings.

A plain ``pytest`` runs each benchmark once on a small slice, as a smoke test
(pytest-benchmark's ``--benchmark-disable``); ``pytest --benchmark-only`` or
``--benchmark-enable`` time them for real. The choice is made here rather
than in pyproject's addopts because pytest-benchmark refuses
``--benchmark-only`` together with ``--benchmark-disable``.
"""

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    option = config.option
    if hasattr(option, "benchmark_disable") and not (
        option.benchmark_only or getattr(option, "benchmark_enable", False)
    ):
        option.benchmark_disable = True
