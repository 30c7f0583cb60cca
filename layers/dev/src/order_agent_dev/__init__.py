"""Development tools of the order-support agent, never deployed to AWS: the local stack (`local`), the
evaluation harnesses (`evals`), the `order-agent` command (`cli`), throw-away databases (`scratch`) and
the development model providers (`providers`, the only part an emulator's functions get, as a layer
of its own). Kept free of imports so that the dev-providers layer needs nothing but `providers`."""
