"""SMS providers behind one small interface (base.py): twilio (official SDK) and console (demo)."""
