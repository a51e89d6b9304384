"""Training methods, one file each, registered by name (``sskd methods`` lists them)."""

from sskd.methods import ab as _ab  # noqa: F401  (registers "ab")
from sskd.methods import ab_init as _ab_init  # noqa: F401  (registers "ab_init")
from sskd.methods import at as _at  # noqa: F401  (registers "at")
from sskd.methods import cc as _cc  # noqa: F401  (registers "cc")
from sskd.methods import crd as _crd  # noqa: F401  (registers "crd")
from sskd.methods import fitnet as _fitnet  # noqa: F401  (registers "fitnet")
from sskd.methods import fsp as _fsp  # noqa: F401  (registers "fsp")
from sskd.methods import fsp_init as _fsp_init  # noqa: F401  (registers "fsp_init")
from sskd.methods import ft as _ft  # noqa: F401  (registers "ft")
from sskd.methods import ft_paraphraser as _ft_paraphraser  # noqa: F401  (registers "ft_paraphraser")
from sskd.methods import hssakd as _hssakd  # noqa: F401  (registers "hssakd")
from sskd.methods import hssakd_joint as _hssakd_joint  # noqa: F401  (registers "hssakd_joint")
from sskd.methods import hssakd_online as _hssakd_online  # noqa: F401  (registers "hssakd_online")
from sskd.methods import hssakd_teacher as _hssakd_teacher  # noqa: F401  (registers "hssakd_teacher")
from sskd.methods import kd as _kd  # noqa: F401  (registers "kd")
from sskd.methods import nst as _nst  # noqa: F401  (registers "nst")
from sskd.methods import pkt as _pkt  # noqa: F401  (registers "pkt")
from sskd.methods import rkd as _rkd  # noqa: F401  (registers "rkd")
from sskd.methods import sp as _sp  # noqa: F401  (registers "sp")
from sskd.methods import sskd as _sskd  # noqa: F401  (registers "sskd_teacher_head", "sskd")
from sskd.methods import supervised as _supervised  # noqa: F401  (registers "supervised")
from sskd.methods import vid as _vid  # noqa: F401  (registers "vid")
from sskd.methods.base import (Method, MethodContext, build_method, list_methods, method_class,
                               register_method)

__all__ = ["Method", "MethodContext", "build_method", "list_methods", "method_class", "register_method"]
