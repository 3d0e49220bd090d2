"""The pure core: rules, alert lifecycle, escalation decisions, message texts.

No I/O and no clock reads: time comes in as an argument.
"""
