"""intentloop api: the northbound component (TM Forum Open APIs v4 and the console)."""
