"""Replays: a scenario driven through the real webhook and slash-command paths on simulated time."""
