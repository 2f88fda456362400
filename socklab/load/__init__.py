"""Load generators shared by the tests, `socklab bench` and the experiments.

``stats`` (percentiles, spreads), ``python_load`` (exchanges from this process: sequential, a burst at
once, an open-loop rate) and ``c_loader`` (the C load generator in its own containers, for load a
Python loop cannot make: tens of thousands of connections per second, a hundred thousand held).
"""
