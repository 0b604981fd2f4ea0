from tests.support.node import node

__all__ = ["node"]
