"""`make demo`: a month in Lingshui across all five services, through the gateway."""
