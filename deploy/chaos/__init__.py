"""``./hall chaos``: the fault suite with accounting.

A client (``driver``) submits applications at a fixed open-loop rate through the gateway's HTTP API, each with
its own Idempotency-Key, retrying as a kiosk would, and drives a share of the cases through their whole
lifecycle. Meanwhile ``faults`` kills, stops and wipes the processes, the broker and Redis of a private sandbox,
one fault after another. Afterwards ``accounting`` reads the namespace's topics and the gateway's API and
accounts every acknowledged write: lost, duplicated, stuck, 5xx answered, recovery time per fault. ``cli`` ties
them together and prints the table.
"""
