"""The demo counterpart of 跨省通办: answers the hall's handovers as another province's platform would."""
