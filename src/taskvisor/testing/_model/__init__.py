"""The test kit's contract model of the core, one part per concern (architecture rule 8).

``ContractModel`` is a ``fsm.StepChecker``: ``CheckedCore`` and the core's own test driver run
it in their ``fsm.Stepper``'s checker chain. See ``_contract`` for the parts.
"""

from __future__ import annotations

from taskvisor.testing._model._contract import ContractModel

__all__ = ["ContractModel"]
