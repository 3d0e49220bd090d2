"""The registry: who lives where, with which devices and responders — read from files
(file.py), written to the database (importer.py), loaded for the engine (snapshot.py)."""
