"""PDF reporting: booking receipts and cancellation notes rendered with reportlab, kept."""
