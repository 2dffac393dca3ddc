"""Users' own gauges on /metrics: the outbox's backlog (e-mails not yet handed to SMTP)."""

from services.common.metrics import backlog_gauges
from services.users.outbox import PENDING
from services.users.tables import outbox

GAUGES = backlog_gauges(
    "staysaga_users_outbox_pending",
    "E-mails in the outbox not yet handed to SMTP",
    outbox.c.created_at,
    outbox.c.status == PENDING,
)
