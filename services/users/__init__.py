"""Users: accounts, password hashes, e-mail verification, and the e-mails sent to them."""
