"""Virtual devices and residents, recorder, broker replay, load generator. Speaks MQTT like a device."""
