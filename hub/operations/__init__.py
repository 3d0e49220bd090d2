"""Running a hub over time: backup and restore, retention, data-subject requests, the
production profile, device credentials and certificates."""
