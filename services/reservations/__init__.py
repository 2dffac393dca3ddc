"""Reservations: room inventory per night, holds, and reservations; never overbooks."""
