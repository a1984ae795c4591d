"""Plain Python functions as simulation models.

The smallest way to give a twin behaviour: a function of time, inputs and parameters that
returns the outputs (a stateless model, e.g. a pump curve or a lookup table), or a step
function that also moves a state (e.g. a counter or a hand-written discrete filter).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from twinsight.sim.model import BaseModel, ModelDescription, Variable, variables

OutputFunction = Callable[[float, Mapping[str, float], Mapping[str, float]], Mapping[str, float]]
"""``f(t, inputs, values) -> outputs``, where ``values`` holds the parameters and the state."""

StepFunction = Callable[
    [float, float, Mapping[str, float], Mapping[str, float], Mapping[str, float]],
    Mapping[str, float],
]
"""``step(t, dt, state, inputs, parameters) -> new state``."""


class FunctionModel(BaseModel):
    """A model made of plain functions: an optional ``step`` that moves the state over
    ``dt``, and an ``output`` function evaluated at the current time."""

    def __init__(
        self,
        description: ModelDescription,
        output: OutputFunction,
        step: StepFunction | None = None,
    ) -> None:
        super().__init__(description)
        self._output = output
        self._step = step
        self._output_names = tuple(v.name for v in description.outputs)

    @classmethod
    def from_function(
        cls,
        name: str,
        output: OutputFunction,
        *,
        parameters: Mapping[str, float] | None = None,
        inputs: Mapping[str, float] | None = None,
        outputs: Sequence[str] = (),
        states: Mapping[str, float] | None = None,
        step: StepFunction | None = None,
    ) -> FunctionModel:
        """Build a model from functions and start values, without writing a description."""
        description = ModelDescription(
            name,
            parameters=tuple(Variable(k, v) for k, v in (parameters or {}).items()),
            states=tuple(Variable(k, v) for k, v in (states or {}).items()),
            inputs=tuple(Variable(k, v) for k, v in (inputs or {}).items()),
            outputs=variables(*outputs),
        )
        return cls(description, output, step)

    def _advance(self, dt: float) -> None:
        if self._step is not None:
            new_state = self._step(self._time, dt, self._state, self._inputs, self._parameters)
            self.set_state(new_state)

    def _outputs(self) -> dict[str, float]:
        values = self._output(self._time, self._inputs, self._parameters | self._state)
        return {name: float(values[name]) for name in self._output_names}
