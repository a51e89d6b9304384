"""One kind of user error: every error the library raises about a bad input is a UserError,
and the CLI turns it, or an OSError naming a file, into one line."""

import pytest

from sskd.analysis.report import ExperimentFileError
from sskd.config import ConfigError
from sskd.data.dataset import DatasetFormatError
from sskd.data.registry import UnknownDatasetError
from sskd.data.safe_pickle import UnsafePickleError
from sskd.engine.checkpoint import CheckpointError, UnsafeCheckpointError
from sskd.engine.run_lock import RunDirectoryError
from sskd.engine.trainer import NonFiniteLossError
from sskd.errors import UserError, user_message
from sskd.export.errors import ExportError


@pytest.mark.parametrize("error", [ConfigError, DatasetFormatError, UnknownDatasetError, UnsafePickleError,
                                   CheckpointError, UnsafeCheckpointError, RunDirectoryError, NonFiniteLossError,
                                   ExportError, ExperimentFileError])
def test_every_library_error_about_an_input_is_a_user_error(error):
    assert issubclass(error, UserError) and issubclass(error, ValueError)


def test_messages_are_one_line_and_name_the_file():
    assert user_message(ConfigError("lr: must be\n  > 0")) == "lr: must be > 0"
    assert user_message(UnknownDatasetError("unknown data set 'x'")) == "unknown data set 'x'"
    assert user_message(PermissionError(13, "Permission denied", "data/x.pkl")) == "data/x.pkl: permission denied"
    assert user_message(IsADirectoryError(21, "Is a directory", "runs")) == "runs: is a directory"
    assert user_message(RuntimeError("a bug")) is None and user_message(KeyError("a bug")) is None
    assert issubclass(NonFiniteLossError, RuntimeError)  # callers catching RuntimeError still do
