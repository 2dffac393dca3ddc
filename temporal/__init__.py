"""Everything about talking to Temporal: names, client, data converter, dev server."""
