"""Order-support agent: the orders domain, its policy-enforcing tools and the agent itself."""

__version__ = "0.1.0"
