"""promtext.py -- a strict parser of the Prometheus text exposition format 0.0.4, written from
the format's specification (prometheus.io/docs/instrumenting/exposition_formats):

- lines end with '\\n'; empty lines are ignored; '# HELP name text' and '# TYPE name type' are
  the only meaningful comments (other '#' lines are comments), text escapes only '\\\\' and '\\n';
- a sample is  name [ '{' label '="' value '"' { ',' ... } [','] '}' ] value [ timestamp ],
  names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (no '__' prefix), label
  values escape '\\\\', '\\"' and '\\n'; the value is a Go float (NaN, +Inf, -Inf allowed);
  the timestamp an int64 of milliseconds;
- at most one HELP and one TYPE line per family, both before its first sample; the samples of
  a family form one group; no series (name + label set) twice;
- histogram x: samples x_bucket (with le), x_sum, x_count; per series the buckets increase with
  le, are cumulative (never decrease), include le="+Inf", and +Inf equals x_count;
  summary x: x{quantile}, x_sum, x_count; counters are never negative.

This parser is stricter than the spec in one way the brief asks for: every family must have a
TYPE line (the spec allows untyped samples)."""
import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf)|NaN")


class ParseError(ValueError):
    pass


def parse_float(s, where):
    if not FLOAT.fullmatch(s):
        raise ParseError("%s: not a float: %r" % (where, s))
    return float(s)


def unescape(s, allowed, where):
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            if i + 1 >= len(s) or s[i + 1] not in allowed:
                raise ParseError("%s: bad escape in %r" % (where, s))
            out.append("\n" if s[i + 1] == "n" else s[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_labels(s, i, where):
    """s[i] == '{': returns (dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        m = LABEL.match(s, i)
        if not m:
            raise ParseError("%s: bad label name at %d" % (where, i))
        name = m.group(0)
        if name.startswith("__"):
            raise ParseError("%s: reserved label name %s" % (where, name))
        i = m.end()
        if s[i:i + 2] != '="':
            raise ParseError("%s: expected =\" after %s" % (where, name))
        i += 2
        j, raw = i, []
        while True:
            if j >= len(s):
                raise ParseError("%s: unterminated label value" % where)
            if s[j] == "\\":
                raw.append(s[j:j + 2])
                j += 2
                continue
            if s[j] == '"':
                break
            raw.append(s[j])
            j += 1
        if name in labels:
            raise ParseError("%s: label %s twice" % (where, name))
        labels[name] = unescape("".join(raw), '\\"n', where)
        i = j + 1
        if i < len(s) and s[i] == ",":
            i += 1
        elif i < len(s) and s[i] != "}":
            raise ParseError("%s: expected , or } at %d" % (where, i))


def family_of(name, types):
    """The family a sample name belongs to (histogram/summary suffixes)."""
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            if suffix == "_bucket" and types[base] != "histogram":
                continue
            return base
    return name


def parse(text):
    """Returns {family: {"type", "help", "samples": [(name, labels, value)]}}; raises ParseError."""
    if text and not text.endswith("\n"):
        raise ParseError("the exposition does not end with a newline")
    fams, types, order, done = {}, {}, [], set()
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d" % n
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.fullmatch(name):
                    raise ParseError("%s: bad metric name %r" % (where, name))
                fam = fams.setdefault(name, {"type": None, "help": None, "samples": []})
                if name in done or fam["samples"]:
                    raise ParseError("%s: %s after the samples of %s" % (where, parts[1], name))
                if parts[1] == "HELP":
                    if fam["help"] is not None:
                        raise ParseError("%s: second HELP for %s" % (where, name))
                    fam["help"] = unescape(parts[3] if len(parts) > 3 else "", "\\n", where)
                else:
                    if fam["type"] is not None:
                        raise ParseError("%s: second TYPE for %s" % (where, name))
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ParseError("%s: bad TYPE line %r" % (where, line))
                    fam["type"] = types[name] = parts[3]
            continue
        m = NAME.match(line)
        if not m:
            raise ParseError("%s: bad sample line %r" % (where, line))
        name, i = m.group(0), m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = parse_labels(line, i, where)
        rest = line[i:]
        if not rest.startswith(" "):
            raise ParseError("%s: expected a space before the value in %r" % (where, line))
        fields = rest.strip(" ").split(" ")
        if len(fields) not in (1, 2) or "" in fields:
            raise ParseError("%s: expected value [timestamp] in %r" % (where, line))
        value = parse_float(fields[0], where)
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            raise ParseError("%s: bad timestamp %r" % (where, fields[1]))
        fam_name = family_of(name, types)
        if fam_name != current:
            if fam_name in done:
                raise ParseError("%s: samples of %s are not one group" % (where, fam_name))
            if current is not None:
                done.add(current)
            current = fam_name
            order.append(fam_name)
        fam = fams.setdefault(fam_name, {"type": None, "help": None, "samples": []})
        key = (name, tuple(sorted(labels.items())))
        if any((s[0], tuple(sorted(s[1].items()))) == key for s in fam["samples"]):
            raise ParseError("%s: series %s%s twice" % (where, name, labels))
        fam["samples"].append((name, labels, value))
    for name, fam in fams.items():
        check_family(name, fam)
    return fams


def check_family(name, fam):
    t = fam["type"]
    if t is None:
        raise ParseError("%s has no TYPE line" % name)
    if t == "counter":
        for s in fam["samples"]:
            if s[2] < 0 or math.isnan(s[2]):
                raise ParseError("counter %s is %r" % (name, s[2]))
    if t != "histogram":
        for s in fam["samples"]:
            if s[0] != name and t != "summary":
                raise ParseError("%s sample %s does not carry the family's name" % (name, s[0]))
        return
    series = {}
    for sname, labels, value in fam["samples"]:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        ent = series.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            if "le" not in labels:
                raise ParseError("%s_bucket without le" % name)
            ent["buckets"].append((parse_float(labels["le"], name + " le"), value))
        elif sname == name + "_sum":
            ent["sum"] = value
        elif sname == name + "_count":
            ent["count"] = value
        else:
            raise ParseError("histogram %s has a sample %s" % (name, sname))
    for rest, ent in series.items():
        b = ent["buckets"]
        if not b or b[-1][0] != math.inf:
            raise ParseError("histogram %s%s: no +Inf bucket last" % (name, dict(rest)))
        for (le0, v0), (le1, v1) in zip(b, b[1:]):
            if not le1 > le0:
                raise ParseError("histogram %s%s: le not increasing" % (name, dict(rest)))
            if v1 < v0:
                raise ParseError("histogram %s%s: buckets not cumulative" % (name, dict(rest)))
        if ent["count"] is None or ent["sum"] is None:
            raise ParseError("histogram %s%s: no _sum or _count" % (name, dict(rest)))
        if b[-1][1] != ent["count"]:
            raise ParseError("histogram %s%s: +Inf %r != _count %r"
                             % (name, dict(rest), b[-1][1], ent["count"]))


def value(fams, family, sample=None, **labels):
    """The value of one series (0 when absent: a counter not yet incremented)."""
    sample = sample or family
    for name, lab, v in fams.get(family, {"samples": []})["samples"]:
        if name == sample and lab == labels:
            return v
    return 0.0
