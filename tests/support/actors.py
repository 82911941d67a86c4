"""The people the tests act as. A Principal is who a token names; `.actor()` is the audit's
dict of it as stored in domain events, `.as_actor()` the typed Actor of envelopes."""

from shared.auth import Principal, Role
from tests.support.places import YELIN

CLERK = Principal(user_id="clerk-yelin-1", role=Role.TOWNSHIP_CLERK, township=YELIN)
LEADER = Principal(user_id="lead-yelin", role=Role.TOWNSHIP_LEADER, township=YELIN)
BUREAU = Principal(user_id="bureau", role=Role.COUNTY_BUREAU, township=None)
