"""The hall's services; each folder is one deployable process and imports only ``shared``."""
