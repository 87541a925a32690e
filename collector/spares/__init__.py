"""Spares that count themselves: the stock ledger a maintenance log moves, and the L4
"spare stock below quota" fault (rule ``spare_stock_low``) per (site, model)."""
