"""Pure domain of Twinsight: identifiers, errors, clocks and storage ports.

Nothing in here performs I/O or imports another Twinsight layer, so every other layer can
depend on it and tests can use it without any setup.
"""
