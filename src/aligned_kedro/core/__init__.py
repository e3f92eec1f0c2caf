"""Framework-free ALIGNED core: knowledge base, closure, labels, splits and metrics.

Everything here takes arrays and tables and knows nothing of Kedro.
"""
