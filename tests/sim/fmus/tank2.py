"""A leaky tank as an FMI 2.0 co-simulation FMU, built by pythonfmu for the FMU tests.

level' = inflow - leak * level, stepped with explicit Euler over each communication step;
``steps`` (Integer) counts the steps and ``full`` (Boolean) says the level is above
``capacity``, so the adapter's reading of every scalar type is exercised.
"""

from pythonfmu import Boolean, Fmi2Causality, Fmi2Slave, Fmi2Variability, Integer, Real


class Tank2(Fmi2Slave):
    description = "leaky tank"

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.leak = 0.1
        self.capacity = 2.0
        self.inflow = 0.5
        self.level = 1.0
        self.steps = 0
        self.full = False
        parameter = {"causality": Fmi2Causality.parameter, "variability": Fmi2Variability.tunable}
        self.register_variable(Real("leak", **parameter))
        self.register_variable(Real("capacity", **parameter))
        self.register_variable(Real("inflow", causality=Fmi2Causality.input))
        self.register_variable(Real("level", causality=Fmi2Causality.output))
        discrete = {"causality": Fmi2Causality.output, "variability": Fmi2Variability.discrete}
        self.register_variable(Integer("steps", **discrete))
        self.register_variable(Boolean("full", **discrete))

    def do_step(self, current_time, step_size):  # type: ignore[no-untyped-def]
        self.level += step_size * (self.inflow - self.leak * self.level)
        self.steps += 1
        self.full = self.level > self.capacity
        return True
