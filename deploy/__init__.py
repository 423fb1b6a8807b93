"""Running the hall on one machine: processes, topics, Kafka and Redis scripts."""
