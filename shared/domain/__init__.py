"""Pure domain logic: OCPP handling, sessions, pricing and invoicing. No AWS imports here."""
