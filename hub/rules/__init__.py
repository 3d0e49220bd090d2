"""The rules at run time: the engine of alerts/ behind one lock, fed by ingestion, partitions
for several hubs, offline replay and backtesting."""
