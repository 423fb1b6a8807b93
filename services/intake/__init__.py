"""Intake (一窗受理): checks an application against the catalogue, numbers and accepts the case."""
