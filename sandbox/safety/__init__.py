"""The safety layer of a session: detectors, circuit breakers, cases and interventions."""

from sandbox.safety.layer import SafetyLayer

__all__ = ["SafetyLayer"]
