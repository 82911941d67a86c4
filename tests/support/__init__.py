"""What the tests share, in one place: the real parts they run on (infra, stack), how they
speak to a service (web), the county's places and people (places, actors), and per area the
builders of its inputs (review, intake, disbursement, ...). Test modules import from here
only, never from one another (tests/test_test_layout.py)."""
