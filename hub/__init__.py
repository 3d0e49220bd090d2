"""The Ping'an hub daemon: config, CLI, clock, MQTT ingestion, storage, outbox, wiring."""
