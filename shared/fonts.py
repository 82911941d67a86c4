"""The CJK font documents are set in (the statistics PDF, the supervision charts): WenQuanYi
Micro Hei, TrueType outlines, which reportlab can embed (it cannot embed the CFF outlines of
Noto Sans CJK) and matplotlib can draw. Debian's fonts-wqy-microhei; .ci/run installs it.
LINGSHUI_CJK_FONT names another TrueType file."""

from __future__ import annotations

import os
from pathlib import Path

CJK_FONT_FILES = (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
                  Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"))


def cjk_font_file() -> Path | None:
    named = os.environ.get("LINGSHUI_CJK_FONT")
    candidates = (Path(named),) if named else CJK_FONT_FILES
    return next((p for p in candidates if p.is_file()), None)
