"""The gateway's views of the events it consumes: one module per source service, each event type declared once.

A view holds the fields the gateway's read models read (msgspec ignores the others); a field is required only where
the publisher always sends it, with a default otherwise. The class name and ``version`` make the envelope's type tag
(:func:`shared.envelope.type_tag`), so a view routes exactly the tag its publisher writes. Every feature imports its
views from here (``services.gateway.views.intake`` and so on); tests/unit/test_contracts.py checks each against its
publisher's declaration.
"""
