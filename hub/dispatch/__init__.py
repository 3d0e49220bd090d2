"""Dispatch: turns escalation decisions into outbox rows, and sends them.

- dispatcher.py: `Dispatcher` — on the engine's actions and on due deadlines, writes
  Notification rows (the outbox) and the alert's escalation columns, in the caller's transaction;
- sender.py: `OutboxSender` — claims due rows with a lease, sends through the provider,
  records the result, retries with backoff;
- replies.py: `SmsReplies` — what the webhook router calls: inbound replies, delivery receipts;
- links.py: signed responder links;
- providers/: the provider port, twilio and console.
"""
