"""The HTTP gateway: the hall's one HTTP entry for clerks, staff, kiosks and operators."""
