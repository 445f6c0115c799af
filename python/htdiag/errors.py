"""Exceptions raised by htdiag. Their messages are the Rust library's, word for word (the
command line prints the same ones)."""


class HtdiagError(Exception):
    """Base class of htdiag's errors. ``path`` and ``tensor`` name the file and tensor
    concerned, when there is one (else None)."""

    path = None
    tensor = None


class CheckpointError(HtdiagError):
    """A checkpoint cannot be read: missing or unreadable file, invalid safetensors header or
    shard index, a tensor whose bytes do not match its shape, or an in-memory tensor htdiag
    cannot take."""


class InvalidArgumentError(HtdiagError, ValueError):
    """An option out of range or contradicting another one."""


class NumericalError(HtdiagError, ArithmeticError):
    """A numerical routine (LAPACK, the fit) failed for the whole run."""


class GpuError(HtdiagError, RuntimeError):
    """The GPU (through wgpu) refused or lost work."""


class DataError(HtdiagError, ValueError):
    """A training or test data file that cannot be read as a data set."""


class ResultFileError(HtdiagError, ValueError):
    """A saved result (JSON) that cannot be read back."""
