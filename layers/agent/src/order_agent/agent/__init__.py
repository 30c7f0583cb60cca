"""The conversation agent: a three-stage LangGraph graph over the policy-enforcing tools."""
