"""Payments' own gauges on /metrics: authorizations holding a traveller's money, neither
captured nor voided yet (the saga settles each within minutes; an old one is stuck)."""

from services.common.metrics import backlog_gauges
from services.payments import api
from services.payments.tables import payments

GAUGES = backlog_gauges(
    "staysaga_payments_open_authorizations",
    "Card authorizations neither captured nor voided",
    payments.c.created_at,
    payments.c.status == api.AUTHORIZED,
)
