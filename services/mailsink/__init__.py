"""The local mail sink: an SMTP server that keeps every message, an inbox page, a JSON API."""
