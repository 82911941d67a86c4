from tests.e2e.conftest import services  # noqa: F401  (the same started-services factory)
