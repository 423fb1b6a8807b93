"""Cases at the window and the kiosk: submission, progress and timeline, delivery, rating."""
