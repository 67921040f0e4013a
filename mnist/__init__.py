"""The classic TensorFlow 1 MNIST tutorials, for TensorFlow 2 graph mode.

Modules: input_data (the idx files and DataSet), mnist (the model of
fully_connected_feed) and the programs fully_connected_feed, mnist_softmax,
mnist_softmax_xla, mnist_with_summaries and mnist_deep.
"""

import argparse
import importlib.util

# TensorFlow is an extra (tensorflow-cpu or tensorflow[and-cuda]), as with
# TensorFlow's own add-ons, so say how to get it instead of a bare
# ModuleNotFoundError deep inside an import.
if importlib.util.find_spec('tensorflow') is None:
  raise ImportError(
      'TensorFlow is not installed. Install it with the project: '
      "pip install 'classic-tf-tutorials[cpu]' (or [gpu] for NVIDIA GPUs).")


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
