"""Cross-cutting code of the service hall: envelope, settings, Kafka and Redis wiring, telemetry.

Nothing here knows about intake, routing, timing or evaluation rules.
"""
