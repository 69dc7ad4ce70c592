"""The convbench asv suite: one module per question, a shared grid and skip rule."""
