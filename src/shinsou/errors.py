"""User-facing errors: one line that names the input and what is wrong; the CLI exits with status 2.
Everything a user can get wrong (a file, a flag, a name) raises one of these, never a bare traceback."""


class ShinsouError(Exception):
    """An error caused by the user's input; its message is shown as one line."""


class DataError(ShinsouError):
    """A data file or folder that cannot be read as the format it claims to be."""


class ConfigError(ShinsouError):
    """A flag, config file or name that does not fit."""


def unknown_name(kind: str, name: str, known) -> ConfigError:
    """`unknown model 'lenet' (known: lenet-caffe, lenet5)`: list the valid choices."""
    return ConfigError(f"unknown {kind} {name!r} (known: {', '.join(sorted(known))})")


class Interrupted(Exception):
    """Ctrl-C during a command; the CLI says what was kept and exits with status 130."""
