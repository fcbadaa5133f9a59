"""testlib.py -- what the Python adapter tests share: the import path of adapters/python and
check() counting and printing results under one label. Invariant: the caller ends with
summary(), whose exit status is 1 on any failure."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "adapters", "python"))


class Checks:
    def __init__(self, label):
        self.label = label
        self.passed = self.failed = 0

    def __call__(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print("ok   %s: %s" % (self.label, name))
        else:
            self.failed += 1
            print("FAIL %s: %s" % (self.label, name), detail)

    def summary(self):
        print("%s: %d passed, %d failed" % (self.label, self.passed, self.failed))
        sys.exit(1 if self.failed else 0)
