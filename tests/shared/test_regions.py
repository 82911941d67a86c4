import json
from pathlib import Path

import pytest

from shared.regions import (
    SHIPPED_REGIONS_DIR,
    County,
    RegionDataError,
    UnknownRegion,
    load_county,
)

pytestmark = pytest.mark.fast

LINGSHUI_TOWNSHIPS = {
    "469028100": "椰林镇",
    "469028101": "光坡镇",
    "469028102": "三才镇",
    "469028103": "英州镇",
    "469028104": "隆广镇",
    "469028105": "文罗镇",
    "469028106": "本号镇",
    "469028107": "新村镇",
    "469028108": "黎安镇",
    "469028200": "提蒙乡",
    "469028201": "群英乡",
}


# Test data shaped like another county's file; names are placeholders.
OTHER_COUNTY = {
    "code": "469029",
    "name": "保亭黎族苗族自治县",
    "seat": "469029100",
    "villages_are_sample": True,
    "townships": [
        {
            "code": "469029100",
            "name": "保城镇",
            "pinyin": "Baocheng",
            "villages": [
                {"code": "469029100201", "name": "示例村", "kind": "village", "urban": False}
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def lingshui() -> County:
    return load_county()


def _shipped() -> dict:
    return json.loads((SHIPPED_REGIONS_DIR / "469028.json").read_text("utf-8"))


def test_lingshui_has_its_eleven_townships(lingshui):
    assert lingshui.code == "469028"
    assert lingshui.name == "陵水黎族自治县"
    assert {t.code: t.name for t in lingshui.townships} == LINGSHUI_TOWNSHIPS
    assert lingshui.township_codes == tuple(LINGSHUI_TOWNSHIPS)
    assert lingshui.seat == "469028100"
    assert lingshui.township("469028108").pinyin == "Li'an"


def test_every_township_has_a_few_sample_villages(lingshui):
    for township in lingshui.townships:
        assert 3 <= len(township.villages) <= 5, township.name


def test_village_codes_extend_their_township_code_and_are_unique(lingshui):
    codes = [v.code for t in lingshui.townships for v in t.villages]
    assert len(codes) == len(set(codes))
    for township in lingshui.townships:
        for village in township.villages:
            assert len(village.code) == 12
            assert village.code.startswith(township.code)
            assert lingshui.is_village_of(village.code, township.code)
            assert lingshui.village(village.code) == (township, village)


def test_sample_marks_communities_urban_and_villages_rural(lingshui):
    for township in lingshui.townships:
        for village in township.villages:
            assert village.urban == (village.kind == "community"), village.name


def test_village_list_is_flagged_as_sample(lingshui):
    assert lingshui.villages_are_sample is True
    assert "not official" in lingshui.note.lower()


def test_unknown_township_raises_unknown_region(lingshui):
    with pytest.raises(UnknownRegion, match="unknown township code '469028999'"):
        lingshui.township("469028999")
    with pytest.raises(KeyError):  # callers may treat it as a plain lookup miss
        lingshui.township("")


def test_unknown_village_raises_unknown_region(lingshui):
    with pytest.raises(UnknownRegion, match="469028100999.*sample"):
        lingshui.village("469028100999")


def test_township_name_or_village_code_used_as_township_code_is_explained(lingshui):
    with pytest.raises(UnknownRegion, match="use its code 469028100"):
        lingshui.township("椰林镇")
    with pytest.raises(UnknownRegion, match="village code; its township is 469028107"):
        lingshui.township("469028107201")


@pytest.mark.parametrize("name", ["岭门农场", "南平农场", "吊罗山林业公司", "国营岭门农场"])
def test_state_farms_are_not_townships(lingshui, name):
    assert name not in {t.name for t in lingshui.townships}
    with pytest.raises(UnknownRegion, match="not a township-level unit"):
        lingshui.township(name)


def test_is_village_of(lingshui):
    assert lingshui.is_village_of("469028100201", "469028100")
    assert not lingshui.is_village_of("469028100201", "469028101")
    assert not lingshui.is_village_of("469028100999", "469028100")


def test_load_is_cached():
    assert load_county() is load_county("469028")


def test_operator_dir_provides_another_county(tmp_path):
    (tmp_path / "469029.json").write_text(json.dumps(OTHER_COUNTY, ensure_ascii=False), "utf-8")
    county = load_county("469029", tmp_path)
    assert county.township_codes == ("469029100",)
    assert county.village("469029100201")[1].name == "示例村"


def test_missing_county_is_unknown_region(tmp_path):
    with pytest.raises(UnknownRegion, match="no region data for county 110101"):
        load_county("110101", tmp_path)
    with pytest.raises(UnknownRegion, match="6 digits"):
        load_county("../469028")


def test_file_holding_another_county_is_rejected(tmp_path):
    (tmp_path / "469028.json").write_text(json.dumps(OTHER_COUNTY, ensure_ascii=False), "utf-8")
    with pytest.raises(RegionDataError, match="holds county 469029, not 469028"):
        load_county("469028", tmp_path)


def _write_variant(directory: Path, mutate) -> None:
    data = _shipped()
    mutate(data)
    (directory / "469028.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda d: d["townships"][0]["villages"][0].update(code="469028101001"),
            "must be 469028100",
        ),
        (lambda d: d["townships"][1].update(code="469028100"), "duplicate code 469028100"),
        (lambda d: d["townships"][0]["villages"][0].update(kind="hamlet"), "kind"),
        (lambda d: d.update(seat="469028999"), "seat"),
        (lambda d: d.pop("villages_are_sample"), "villages_are_sample"),
        (lambda d: d["not_townships"][0].update(name="椰林镇"), "both as township and not"),
    ],
)
def test_malformed_county_file_names_the_file(tmp_path, mutate, message):
    _write_variant(tmp_path, mutate)
    with pytest.raises(RegionDataError, match=message) as error:
        load_county("469028", tmp_path)
    assert str(tmp_path / "469028.json") in str(error.value)
