"""Lifecycle that moves: purchases and scoring's results move the stage, each move kept with its cause."""
