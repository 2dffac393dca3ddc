"""Helpers the tests share: in-process apps, databases, free ports, polling."""
