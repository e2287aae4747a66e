"""Legal time (期间): the clock, CPL Art. 85 periods, the holiday table and the timers built on them."""
