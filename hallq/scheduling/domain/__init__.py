"""The scheduling rules as plain Python: calendars, slots of a date, the booking window.

Nothing here imports Django or the rest of hallq; the clock, the zone and the configuration
are arguments. ``hallq.scheduling.selectors`` reads the rows and calls these functions.
"""
