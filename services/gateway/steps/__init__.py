"""Back-office steps: each department's inbox and its decisions."""
