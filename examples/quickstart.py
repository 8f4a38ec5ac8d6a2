"""Quickstart: build a market in Python, run it, read the metrics."""

from agents import ZIC, MarkupSeller
from sandbox import Session

session = Session(seed=7, rounds=30, store="quickstart.db")
session.spawn(MarkupSeller, n=8, role="seller", service="translation", cost=(20, 80), capacity=3, markup=0.25)
session.spawn(ZIC, n=20, role="buyer", service="translation", budget=200, value=(40, 140), demand=1)
result = session.run()

print(result.summary)
print(result.metrics()[["transactions", "mean_price", "efficiency", "hhi"]].tail())
