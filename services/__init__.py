"""The staysaga microservices, one package each, plus their shared plumbing in `common`."""
