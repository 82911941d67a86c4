"""Looking at documents as a person would: poppler's pdftotext/pdftoppm/pdffonts (Debian
poppler-utils, installed by .ci/run) read the PDF the way a reader does, and every page is
kept as a PNG artifact under tests/artifacts/ (or $LINGSHUI_TEST_ARTIFACTS) to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("LINGSHUI_TEST_ARTIFACTS")
                 or Path(__file__).resolve().parents[1] / "artifacts")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} (Debian poppler-utils) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": .ci/run installs it")
        pytest.skip(message)
    return path


def require_cjk_font() -> None:
    from shared.fonts import cjk_font_file

    if cjk_font_file() is None:
        message = "no CJK TrueType font (Debian fonts-wqy-microhei) to embed in PDFs"
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": .ci/run installs it")
        pytest.skip(message)


def pdf_text(pdf: bytes) -> str:
    out = subprocess.run([_tool("pdftotext"), "-layout", "-enc", "UTF-8", "-", "-"],
                         input=pdf, capture_output=True, check=True, timeout=60)
    return out.stdout.decode()


def pdf_fonts(pdf: bytes, tmp: Path) -> list[list[str]]:
    """pdffonts' table: one row per font, [name, type..., emb, sub, uni, ...]."""
    path = tmp / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([_tool("pdffonts"), str(path)], capture_output=True, text=True,
                         check=True, timeout=60)
    return [line.split() for line in out.stdout.splitlines()[2:] if line.strip()]


def render_pages(pdf: bytes, name: str, dpi: int = 80) -> list[Path]:
    """Every page as `<ARTIFACTS>/<name>-<n>.png`; the paths are printed (pytest -s)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    source = ARTIFACTS / f"{name}.pdf"
    source.write_bytes(pdf)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    subprocess.run([_tool("pdftoppm"), "-r", str(dpi), "-png", str(source),
                    str(ARTIFACTS / name)], check=True, capture_output=True, timeout=120)
    pages = sorted(ARTIFACTS.glob(f"{name}-*.png"))
    for page in pages:
        print(f"rendered: {page}")
    return pages


def red_pixels(png: Path) -> int:
    """How many clearly red pixels a rendered page has: the seal is the only red on it."""
    from matplotlib.image import imread

    image = imread(str(png))
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return int(((r > 0.6) & (g < 0.35) & (b < 0.35)).sum())
