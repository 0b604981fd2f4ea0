from tests.support.verify import verify_env

__all__ = ["verify_env"]
