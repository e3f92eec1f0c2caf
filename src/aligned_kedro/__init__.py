"""ALIGNED as a Kedro project: the framework-free method in `aligned_kedro.core`."""

from aligned_kedro.console import quiet_third_party_warnings

quiet_third_party_warnings()
