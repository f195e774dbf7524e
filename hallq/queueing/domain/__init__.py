"""The queue's rules as plain Python: calling order, people ahead, wait estimates, numbering.

Nothing here imports Django or reads the clock: ``now`` and configuration are arguments,
so every rule is testable in microseconds and reusable by the simulator.
"""
