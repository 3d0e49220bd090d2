"""The rules of PRODUCT.md, one module each, as functions over a `RuleContext`.

critical (sos, sos_cancel, fall, smoke, gas) · activity (what counts as activity, departures,
returns) · inactivity (silence thresholds, away, absences) · routine (learned allowed silence) ·
offline (missed heartbeats, Last Will, unwatched) · geofence (safe zones with accuracy) ·
battery (hysteresis) · person (fused person state).
"""
