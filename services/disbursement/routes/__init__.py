"""Disbursement's routes, one module per business area; services.disbursement.api lists
them."""
