"""Test support: local stand-ins for outside services that the real clients talk to."""
