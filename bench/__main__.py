"""``make bench``: every benchmark, one table each (ratios measured in this run)."""

from bench import economy

print("## v2 calls per v1 call (realistic mix; `python -m bench.economy`)\n")
economy.main()
