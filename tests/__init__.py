"""The hall's tests: unit (no I/O), integration (real Kafka and Redis, services in-process), e2e (processes)."""
