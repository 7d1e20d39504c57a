"""The workbench around the service: the LLM side and the tools a learner drives the service with.

The service never imports this package; it may import the service's models.
"""
