"""Data files shipped with aligned-kedro (the complex member table)."""
