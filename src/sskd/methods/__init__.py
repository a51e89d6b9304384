"""Training methods, one file each, registered by name."""

from sskd.methods import hssakd as _hssakd  # noqa: F401  (registers "hssakd")
from sskd.methods import hssakd_joint as _hssakd_joint  # noqa: F401  (registers "hssakd_joint")
from sskd.methods import hssakd_online as _hssakd_online  # noqa: F401  (registers "hssakd_online")
from sskd.methods import hssakd_teacher as _hssakd_teacher  # noqa: F401  (registers "hssakd_teacher")
from sskd.methods import fitnet as _fitnet  # noqa: F401  (registers "fitnet")
from sskd.methods import kd as _kd  # noqa: F401  (registers "kd")
from sskd.methods import sskd as _sskd  # noqa: F401  (registers "sskd_teacher_head", "sskd")
from sskd.methods import supervised as _supervised  # noqa: F401  (registers "supervised")
from sskd.methods.base import (Method, MethodContext, build_method, list_methods, method_class,
                               register_method)

__all__ = ["Method", "MethodContext", "build_method", "list_methods", "method_class", "register_method"]
