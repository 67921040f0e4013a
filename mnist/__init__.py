"""The classic TensorFlow 1 MNIST tutorials, for TensorFlow 2 graph mode.

Programs: fully_connected_feed, mnist_softmax, mnist_softmax_xla,
mnist_with_summaries, mnist_deep and handwriting_pad (each also an
installed command, started through commands).

Libraries: input_data (the idx files and DataSet) with mnist_download,
mnist (the model of fully_connected_feed), training (what every trainer
does around its loop), digit_image (images as MNIST digits),
trained_models (checkpoints restored for inference), handwriting_pad_page
and commands. Programs import libraries only, and nothing here imports
the cifar10 package.

Here, for the programs:

 parser = new_parser(PROG, __doc__)    # --help: the docstring, every flag
 flags = parse_flags(parser, argv)     # strict, with suggestions
 parser.add_argument(..., type=int_at_least(1))
 folder = tmp_dir('tensorflow', 'mnist', 'input_data')  # the original's
                                 # /tmp/..., \\tmp\\... on Windows
 text = command_path(folder)     # as typed in a command on this system
 MODEL_DIRS['mnist_deep']        # where the classifiers' trainers write
"""

import argparse
import importlib.util
import os
import shlex

# Anaconda's numpy on Windows loads Intel's Fortran runtime, whose own Ctrl+C
# handler kills the process ('forrtl: error (200): program aborting due to
# control-C event') before Python's can stop training cleanly. It reads
# this variable when it loads, so it is set before anything imports numpy.
os.environ.setdefault('FOR_DISABLE_CONSOLE_CTRL_HANDLER', '1')

# TensorFlow loads without Keras (20% quicker), and the notices it prints
# while it loads, whatever TF_CPP_MIN_LOG_LEVEL says, stay off stderr
# (commands, like this file, needs only Python).
from mnist import commands  # noqa: E402
commands.quick_tensorflow_import()

# TensorFlow is an extra (tensorflow-cpu or tensorflow[and-cuda]), as with
# TensorFlow's own add-ons, so say how to get it instead of a bare
# ModuleNotFoundError deep inside an import.
if importlib.util.find_spec('tensorflow') is None:
  raise ImportError(
      'TensorFlow is not installed. Install it with the project: '
      'pip install "classic-tf-tutorials[cpu]" (or [gpu] for NVIDIA GPUs).')


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
  """Shows the description as written, and the default of each flag.

  The description is the program's whole docstring, whose usage examples
  and tables need their line breaks. A default is added to a flag's help
  unless the help already names it, or the flag takes no value.
  """

  def _get_help_string(self, action):
    text = action.help or ''
    if ('default' in text.lower() or not action.option_strings
        or action.nargs == 0 or action.default in (None, argparse.SUPPRESS)):
      return text
    return text + ' (default: %(default)s)'


def new_parser(prog, doc):
  """An argument parser whose --help tells everything.

  Args:
    prog: the program's name, for its usage and error lines.
    doc: the program's module docstring, shown whole by --help.

  Returns:
    An argparse.ArgumentParser that accepts no abbreviated flags (use
    parse_flags with it).
  """
  return argparse.ArgumentParser(prog=prog, description=doc,
                                 allow_abbrev=False,
                                 formatter_class=HelpFormatter)


def parse_flags(parser, argv=None):
  """Parses a program's flags strictly, as argparse, with suggestions.

  The original programs used parse_known_args and silently ignored anything
  they did not know, so `--max_step=10` trained for the default. Here an
  unknown or misspelled flag is an error that names the closest real flag.

  Args:
    parser: the program's argparse.ArgumentParser (make it with
      allow_abbrev=False so prefixes are not silently accepted).
    argv: arguments without the program name; default sys.argv[1:].

  Returns:
    The parsed argparse.Namespace. Exits with status 2 on a bad flag.
  """
  import difflib
  flags, unknown = parser.parse_known_args(argv)
  if unknown:
    known = [s for a in parser._actions for s in a.option_strings]
    hints = []
    for arg in unknown:
      close = difflib.get_close_matches(arg.split('=')[0], known, n=1)
      hints.append(arg + (' (did you mean %s?)' % close[0] if close else ''))
    parser.error('unrecognized arguments: ' + ' '.join(hints))
  return flags


def int_at_least(low):
  """An argparse type: an int no smaller than low, with a clear message.

  Args:
    low: the smallest value accepted.

  Returns:
    A function for add_argument(type=...).
  """
  def parse(text):
    try:
      value = int(text)
    except ValueError:
      raise argparse.ArgumentTypeError('invalid int value: %r' % text) from None
    if value < low:
      raise argparse.ArgumentTypeError('must be at least %d, not %d'
                                       % (low, value))
    return value
  parse.__name__ = 'int'  # argparse names the type in its messages.
  return parse


def tmp_dir(*parts, root=None, path=os.path):
  """A folder under the tutorial's /tmp, spelled for this system.

  The originals' defaults were '/tmp/tensorflow/mnist/...'. On Windows such
  a path means \\tmp\\tensorflow\\mnist\\... on the current drive (C:\\tmp\\...
  when working in C:, as the course's lab does after `mkdir tmp`): the same
  folder, written the way that system writes it.

  Args:
    *parts: the folders below /tmp.
    root: a folder to use instead of /tmp (fully_connected_feed's original
      honoured $TEST_TMPDIR).
    path: the path module (os.path; ntpath or posixpath in tests).

  Returns:
    The path, e.g. '/tmp/tensorflow/mnist/input_data'.
  """
  return path.join(root or path.join(path.sep, 'tmp'), *parts)


# The trainers whose checkpoints classify digits, and the folder each writes
# them to by default (its --log_dir): what handwriting_pad and classify_images
# restore. Here, without TensorFlow, so that those answer --help at once.
MODEL_DIRS = {
    'mnist_deep': tmp_dir('tensorflow', 'mnist', 'logs', 'mnist_deep'),
    'fully_connected_feed': tmp_dir('tensorflow', 'mnist', 'logs',
                                    'fully_connected_feed',
                                    root=os.getenv('TEST_TMPDIR')),
}


def command_path(folder, path=os.path):
  """A path as a user types it in a command on this system.

  Separators are the system's own, and a path with spaces (or other
  characters the shell would split on) is quoted: "..." for Windows' cmd
  and PowerShell, '...' for a POSIX shell.

  Args:
    folder: a path.
    path: the path module (os.path; ntpath or posixpath in tests).

  Returns:
    The text to type.
  """
  text = path.normpath(folder) if folder else folder
  if path.sep == '\\':
    return '"%s"' % text if any(c in text for c in ' &()^;,=') else text
  return shlex.quote(text)
