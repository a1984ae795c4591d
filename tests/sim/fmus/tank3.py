"""The leaky tank of ``tank2.py`` as an FMI 3.0 co-simulation FMU, built by pythonfmu3."""

from pythonfmu3 import Boolean, Float64, Fmi3Causality, Fmi3Slave, Fmi3Variability, Int32


class Tank3(Fmi3Slave):
    description = "leaky tank"

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.time = 0.0
        self.leak = 0.1
        self.capacity = 2.0
        self.inflow = 0.5
        self.level = 1.0
        self.steps = 0
        self.full = False
        parameter = {"causality": Fmi3Causality.parameter, "variability": Fmi3Variability.tunable}
        self.register_variable(
            Float64(
                "time", causality=Fmi3Causality.independent, variability=Fmi3Variability.continuous
            )
        )
        self.register_variable(Float64("leak", **parameter))
        self.register_variable(Float64("capacity", **parameter))
        self.register_variable(Float64("inflow", causality=Fmi3Causality.input))
        self.register_variable(Float64("level", causality=Fmi3Causality.output))
        discrete = {"causality": Fmi3Causality.output, "variability": Fmi3Variability.discrete}
        self.register_variable(Int32("steps", **discrete))
        self.register_variable(Boolean("full", **discrete))

    def do_step(self, current_time, step_size):  # type: ignore[no-untyped-def]
        self.level += step_size * (self.inflow - self.leak * self.level)
        self.steps += 1
        self.full = self.level > self.capacity
        self.time = current_time + step_size
        return True
