"""Lingshui's codes the tests use (shared/data/regions): the county, two of its townships
and their villages."""

COUNTY = "469028"  # 陵水黎族自治县
YELIN = "469028100"  # 椰林镇
CHENGDONG = "469028100001"  # 椰林镇 城东社区
TAOYUAN = "469028100201"  # 椰林镇 桃源村
DAPO = "469028100202"  # 椰林镇 大坡村
GUANGPO = "469028101"  # 光坡镇
GUANGPO_201 = "469028101201"  # 光坡镇 港坡村
SANCAI = "469028102"  # 三才镇
