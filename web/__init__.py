"""The booking website: server-rendered pages over Search, Reservations, the saga and auth."""
