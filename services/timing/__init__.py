"""Timing (限时办结): working-day clocks for cases, their deadlines and their stop."""
