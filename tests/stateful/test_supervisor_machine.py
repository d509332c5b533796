"""The whole core under random inputs: ``taskvisor.testing.SupervisorMachine`` as shipped."""

from __future__ import annotations

from hypothesis import settings

from taskvisor.testing import SupervisorMachine

TestSupervisorMachine = SupervisorMachine.TestCase
TestSupervisorMachine.settings = settings(settings.default, stateful_step_count=50)
