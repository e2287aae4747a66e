"""Service-task handlers: the Python side of BPMN service tasks (``spiffworkflow:serviceTaskOperator``).

The public surface is the registry (``REGISTRY``, ``handler``) and the handler contract in ``base``.
"""
from handlers.base import BusinessRejection, HandlerContext, HandlerError, Retryable
from handlers.registry import REGISTRY, HandlerSpec, handler

__all__ = ["REGISTRY", "BusinessRejection", "HandlerContext", "HandlerError", "HandlerSpec", "Retryable", "handler"]
