"""The app's tasks: what its web handlers hand to the workers rather than do while a client waits."""

import time


def render_invoice(number: int, customer: str, lines: list[list]) -> str:
    """The invoice as text; ``lines`` are ``[item, quantity, unit price in cents]``."""
    time.sleep(0.5)  # the slow part a real app would do here: a PDF, an email, a call to a payment API
    rows, total = [], 0
    for item, quantity, cents in lines:
        if quantity <= 0:
            raise ValueError(f"{item}: a quantity must be positive, got {quantity}")
        total += quantity * cents
        rows.append(f"{quantity} x {item} at {cents / 100:.2f}")
    return f"invoice {number} for {customer}: " + ", ".join(rows) + f"; total {total / 100:.2f}"
