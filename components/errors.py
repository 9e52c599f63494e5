"""The base of errors caused by the input data or the settings, not by the code.

The CLI prints these as one line without a traceback; anything else is a bug and keeps its
traceback.
"""


class PipelineError(Exception):
    """Bad input or settings; the message says which file or setting and what is wrong."""
