"""Plumbing every service shares: settings, database, errors, logging, health, app factory."""
