"""The website's pages, one module per journey: search, account, booking."""
