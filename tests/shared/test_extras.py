"""An optional part that is not installed is named, with the extra that installs it."""

from __future__ import annotations

import sys

import pytest

from services.archive.document_store import S3DocumentStore
from services.archive.report_files import figure_png
from shared.extras import MissingExtra

pytestmark = pytest.mark.fast


@pytest.fixture
def uninstalled(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    # A None entry in sys.modules makes `import` fail exactly as for an absent package.
    for name in ("boto3", "matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)
    return monkeypatch


def test_s3_store_without_boto3_names_the_s3_extra(uninstalled: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingExtra) as e:
        S3DocumentStore.connect("bucket")
    assert e.value.status == 501 and e.value.extra == "s3" and "'s3' extra" in e.value.message


def test_a_chart_without_matplotlib_names_the_charts_extra(
        uninstalled: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingExtra) as e:
        figure_png([{"month": "2026-01", "households": 3}], "households", "t")
    assert e.value.extra == "charts" and "matplotlib" in e.value.message


def test_with_the_extras_installed_nothing_is_refused() -> None:
    assert figure_png([{"month": "2026-01", "households": 3}], "households", "t")[:4] == \
        b"\x89PNG"
