"""Evaluation (好差评): ratings of delivered cases."""
