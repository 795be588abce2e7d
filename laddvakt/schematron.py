"""ISO Schematron with the XSLT 2 query binding, compiled to an XSLT 3 stylesheet and run by SaxonC-HE.

The official Peppol and EN 16931 rule sets are Schematron, not Python, and only an XSLT 2+ engine
evaluates their XPath 2 tests and `xsl:function`s the way a receiving access point does. This module
is the Schematron-to-XSLT step (the job the classic "skeleton" stylesheets do): each pattern becomes
one template mode walking the whole document, each rule a template whose priority falls with its
position, so that within a pattern only the first rule matching a node fires, as ISO 19757-3 says.
The stylesheet writes SVRL (failed asserts and successful reports), which `SchematronRunner` reads
back into `Failure`s.

Supported: `ns`, `let` (schema, pattern and rule level; `value` or content), `pattern`, `rule` with
`context` and `flag`, `assert` and `report` with `id`, `flag`, `value-of` and `name` in their text,
abstract rules (`extends rule=`), abstract patterns (`is-a` with `param`), and `xsl:*` elements at the
top level (functions, keys) or inside rules. Phases are ignored: every pattern runs. Anything else
that would change the verdict (`include`, `extends href=`) is refused rather than skipped.
"""

from __future__ import annotations

import hashlib
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

SCH = "http://purl.oclc.org/dsdl/schematron"
XSL = "http://www.w3.org/1999/XSL/Transform"
SVRL = "http://purl.oclc.org/dsdl/svrl"
XS = "http://www.w3.org/2001/XMLSchema"
# The namespace of this compiler's own helper functions in the generated stylesheet.
HELPER = "urn:laddvakt:schematron"

_S = f"{{{SCH}}}"
_X = f"{{{XSL}}}"
_V = f"{{{SVRL}}}"


class SchematronError(ValueError):
    """The schema uses something this compiler cannot honour, or is not well-formed Schematron."""


@dataclass(frozen=True)
class Failure:
    """One failed `assert` or fired `report` in one document."""

    rule_id: str
    flag: str
    location: str
    text: str
    test: str
    kind: Literal["assert", "report"]
    rule_set: str = ""

    @property
    def fatal(self) -> bool:
        return self.flag == "fatal"

    def __str__(self) -> str:
        return f"[{self.flag}] {self.rule_id} at {self.location}: {self.text}"


# --- compiling -------------------------------------------------------------------------------


def compile_schematron(source: bytes) -> str:
    """The XSLT 3 stylesheet (as text) that checks a document against this Schematron schema."""
    schema = ET.fromstring(source)
    if schema.tag != f"{_S}schema":
        raise SchematronError(f"not an ISO Schematron schema: root element is {schema.tag}")
    binding = schema.get("queryBinding", "xslt").lower()
    if binding not in {"xslt2", "xslt3", "xpath2", "xpath3", "xpath31"}:
        # XSLT 1 binding would run too, mostly, but these files are XSLT 2 and nothing else was tested.
        raise SchematronError(f"queryBinding {binding!r} is not supported (xslt2/xslt3 only)")
    _refuse_unsupported(schema)
    namespaces = _namespaces(schema)
    patterns = _expand_abstract_patterns(schema.findall(f"{_S}pattern"))

    out = _Writer()
    declarations = {f"xmlns:{prefix}": uri for prefix, uri in {**namespaces, "xs": XS}.items()}
    declarations |= {"xmlns:xsl": XSL, "xmlns:svrl": SVRL, "xmlns:lvs": HELPER}
    out.open("xsl:stylesheet", version="3.0", **declarations, **{"exclude-result-prefixes": "#all"})
    out.empty("xsl:output", method="xml", indent="no", encoding="UTF-8")
    for element in schema:
        if element.tag.startswith(_X):
            out.raw(_serialize_foreign(element))
    _write_globals(out, schema, patterns)
    _write_helpers(out)
    out.open("xsl:template", match="/")
    out.open("svrl:schematron-output", title=_literal(schema.findtext(f"{_S}title", "")))
    for index, pattern in enumerate(patterns):
        out.empty("svrl:active-pattern", id=_literal(pattern.get("id", f"pattern-{index}")))
        out.empty("xsl:apply-templates", select="/", mode=f"lvs:M{index}")
    out.close("svrl:schematron-output")
    out.close("xsl:template")
    for index, pattern in enumerate(patterns):
        _write_pattern(out, index, pattern)
    out.close("xsl:stylesheet")
    return out.text()


def _refuse_unsupported(schema: ET.Element) -> None:
    for element in schema.iter():
        if element.tag == f"{_S}include":
            raise SchematronError("sch:include is not supported: give the compiler the included schema")
        if element.tag == f"{_S}extends" and element.get("href"):
            raise SchematronError("sch:extends with href is not supported")


def _namespaces(schema: ET.Element) -> dict[str, str]:
    found: dict[str, str] = {}
    for ns in schema.findall(f"{_S}ns"):
        prefix, uri = ns.get("prefix", ""), ns.get("uri", "")
        if not prefix or not uri:
            raise SchematronError("sch:ns needs both prefix and uri")
        if prefix in {"xsl", "svrl", "lvs"} or (prefix == "xs" and uri != XS):
            raise SchematronError(f"sch:ns prefix {prefix!r} clashes with the compiler's own prefixes")
        if found.get(prefix, uri) != uri:
            raise SchematronError(f"sch:ns prefix {prefix!r} is bound twice")
        found[prefix] = uri
    return found


def _expand_abstract_patterns(patterns: list[ET.Element]) -> list[ET.Element]:
    """Instantiate `is-a` patterns by substituting their params into the abstract pattern's XPaths."""
    abstract = {p.get("id"): p for p in patterns if p.get("abstract") == "true"}
    concrete: list[ET.Element] = []
    for pattern in patterns:
        if pattern.get("abstract") == "true":
            continue
        base_id = pattern.get("is-a")
        if base_id is None:
            concrete.append(pattern)
            continue
        if base_id not in abstract:
            raise SchematronError(f"pattern {pattern.get('id')!r} is-a unknown abstract pattern {base_id!r}")
        params = {p.get("name", ""): p.get("value", "") for p in pattern.findall(f"{_S}param")}
        instance = _substitute(abstract[base_id], params)
        instance.attrib.pop("abstract", None)
        if pattern.get("id"):
            instance.set("id", pattern.get("id", ""))
        concrete.append(instance)
    return concrete


def _substitute(pattern: ET.Element, params: dict[str, str]) -> ET.Element:
    # Longest name first, and only whole names: `$a` must not eat the start of `$ab`.
    names = sorted(params, key=len, reverse=True)
    regex = re.compile(r"\$(" + "|".join(re.escape(n) for n in names) + r")(?![\w.\-])") if names else None

    def replace(value: str) -> str:
        return regex.sub(lambda m: params[m.group(1)], value) if regex else value

    def copy(element: ET.Element) -> ET.Element:
        clone = ET.Element(element.tag, {k: replace(v) for k, v in element.attrib.items()})
        clone.text, clone.tail = element.text, element.tail
        clone.extend(copy(child) for child in element)
        return clone

    return copy(pattern)


def _write_globals(out: _Writer, schema: ET.Element, patterns: list[ET.Element]) -> None:
    # ISO: a let outside a rule is evaluated with the document root as context, which is exactly a
    # global xsl:variable; XSLT forbids two of one name, so a clash is reported, not resolved.
    seen: set[str] = set()
    lets = [*schema.findall(f"{_S}let"), *(let for p in patterns for let in p.findall(f"{_S}let"))]
    for let in lets:
        name = let.get("name", "")
        if name in seen:
            raise SchematronError(f"global sch:let {name!r} is defined twice")
        seen.add(name)
        _write_let(out, let)


def _write_let(out: _Writer, let: ET.Element) -> None:
    name = let.get("name")
    if not name:
        raise SchematronError("sch:let without a name")
    value = let.get("value")
    if value is not None:
        out.empty("xsl:variable", name=name, select=value)
        return
    out.open("xsl:variable", name=name)
    if let.text and let.text.strip():
        out.raw(escape(let.text))
    for child in let:
        out.raw(_serialize_foreign(child, tail=True))
    out.close("xsl:variable")


def _write_helpers(out: _Writer) -> None:
    # An XPath to the node with the document's own prefixes and 1-based positions, for humans.
    out.raw(
        '<xsl:function name="lvs:location" as="xs:string">'
        '<xsl:param name="node" as="node()"/>'
        '<xsl:variable name="steps" as="xs:string*" select="for $n in $node/ancestor-or-self::node()[parent::node()]'
        " return if ($n instance of element()) then concat('/', name($n), '[', 1 + count($n/preceding-sibling::*"
        "[node-name(.) eq node-name($n)]), ']') else if ($n instance of attribute()) then concat('/@', name($n))"
        " else if ($n instance of text()) then '/text()' else '/node()'\"/>"
        "<xsl:sequence select=\"if (empty($steps)) then '/' else string-join($steps, '')\"/>"
        "</xsl:function>"
    )


def _write_pattern(out: _Writer, index: int, pattern: ET.Element) -> None:
    mode = f"lvs:M{index}"
    rules = [r for r in pattern.findall(f"{_S}rule") if r.get("abstract") != "true"]
    abstract_rules = {r.get("id"): r for r in pattern.findall(f"{_S}rule") if r.get("abstract") == "true"}
    for position, rule in enumerate(rules):
        context = rule.get("context")
        if not context:
            raise SchematronError(f"a rule in pattern {pattern.get('id', index)!r} has no context")
        # The first rule gets the highest priority: a node matched by an earlier rule of the same
        # pattern is not tested by a later one (ISO 19757-3, 6.5).
        out.open("xsl:template", match=context, mode=mode, priority=str(1000 + len(rules) - position))
        for item in _rule_items(rule, abstract_rules, set()):
            _write_rule_item(out, item, rule, pattern)
        out.empty("xsl:apply-templates", select="@*|node()", mode=mode)
        out.close("xsl:template")
    # Everything no rule matches: keep walking, into attributes as well, and write nothing.
    out.empty("xsl:template", match="text()", mode=mode, priority="-1")
    out.open("xsl:template", match="/|@*|node()", mode=mode, priority="-2")
    out.empty("xsl:apply-templates", select="@*|node()", mode=mode)
    out.close("xsl:template")


def _rule_items(
    rule: ET.Element, abstract_rules: dict[str | None, ET.Element], seen: set[str]
) -> Iterator[ET.Element]:
    for child in rule:
        if child.tag == f"{_S}extends":
            target = child.get("rule", "")
            if target not in abstract_rules:
                raise SchematronError(f"sch:extends names unknown abstract rule {target!r}")
            if target in seen:
                raise SchematronError(f"abstract rule {target!r} extends itself")
            yield from _rule_items(abstract_rules[target], abstract_rules, seen | {target})
        else:
            yield child


def _write_rule_item(out: _Writer, item: ET.Element, rule: ET.Element, pattern: ET.Element) -> None:
    if item.tag == f"{_S}let":
        _write_let(out, item)
    elif item.tag in {f"{_S}assert", f"{_S}report"}:
        kind = "assert" if item.tag == f"{_S}assert" else "report"
        test = item.get("test")
        if test is None:
            raise SchematronError(f"an sch:{kind} in rule {rule.get('context')!r} has no test")
        # A flag on the assert wins; else the rule's; else the pattern's. None at all means the
        # schema author gave no severity, which Laddvakt treats as blocking.
        flag = item.get("flag") or rule.get("flag") or pattern.get("flag") or "fatal"
        condition = f"not({test})" if kind == "assert" else f"({test})"
        element = "svrl:failed-assert" if kind == "assert" else "svrl:successful-report"
        out.open("xsl:if", test=condition)
        out.open(
            element,
            id=_literal(item.get("id", "")),
            flag=_literal(flag),
            test=_literal(test),
            location="{lvs:location(.)}",
        )
        out.open("svrl:text")
        _write_message(out, item)
        out.close("svrl:text")
        out.close(element)
        out.close("xsl:if")
    elif item.tag.startswith(_X):
        out.raw(_serialize_foreign(item))
    # sch:title, sch:p, foreign documentation and the like carry no test.


def _write_message(out: _Writer, element: ET.Element) -> None:
    if element.text:
        out.raw(_text(element.text))
    for child in element:
        if child.tag == f"{_S}value-of":
            out.empty("xsl:value-of", select=child.get("select", "."))
        elif child.tag == f"{_S}name":
            out.empty("xsl:value-of", select=f"name({child.get('path', '.')})")
        else:  # emph, dir, span, foreign markup: keep their words
            _write_message(out, child)
        if child.tail:
            out.raw(_text(child.tail))


def _text(value: str) -> str:
    # xsl:text keeps whitespace-only runs between value-of elements instead of dropping them.
    return f"<xsl:text>{escape(value)}</xsl:text>"


def _literal(value: str) -> str:
    """An attribute value of a literal result element is a template: braces must be doubled."""
    return value.replace("{", "{{").replace("}", "}}")


def _serialize_foreign(element: ET.Element, *, tail: bool = False) -> str:
    """Copy an element (an xsl:function, say) into the stylesheet with its namespaces intact."""
    declared: dict[str, str] = {}

    def qname(tag: str) -> str:
        if not tag.startswith("{"):
            return tag
        uri, local = tag[1:].split("}", 1)
        if uri == XSL:
            return f"xsl:{local}"
        prefix = declared.setdefault(uri, f"f{len(declared)}")
        return f"{prefix}:{local}"

    def write(node: ET.Element, root: bool = False) -> str:
        name = qname(node.tag)
        attrs = "".join(f" {qname(k)}={_quote(v)}" for k, v in node.attrib.items())
        inner = escape(node.text or "") + "".join(write(child) + escape(child.tail or "") for child in node)
        if root:  # every namespace met below is declared once, on the copied element itself
            attrs += "".join(f" xmlns:{p}={_quote(u)}" for u, p in declared.items())
        return f"<{name}{attrs}>{inner}</{name}>"

    return write(element, root=True) + (escape(element.tail or "") if tail else "")


def _quote(value: str) -> str:
    return '"' + escape(value, {'"': "&quot;", "\n": "&#10;", "\t": "&#9;", "\r": "&#13;"}) + '"'


class _Writer:
    """A few lines of XML writing: enough for a stylesheet, with every attribute value escaped."""

    def __init__(self) -> None:
        self._parts: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']

    def open(self, tag: str, /, **attrs: str) -> None:
        self._parts.append(f"<{tag}{self._attrs(attrs)}>")

    def empty(self, tag: str, /, **attrs: str) -> None:
        self._parts.append(f"<{tag}{self._attrs(attrs)}/>")

    def close(self, tag: str) -> None:
        self._parts.append(f"</{tag}>\n")

    def raw(self, xml: str) -> None:
        self._parts.append(xml)

    def text(self) -> str:
        return "".join(self._parts)

    @staticmethod
    def _attrs(attrs: dict[str, str]) -> str:
        return "".join(f" {name}={_quote(value)}" for name, value in attrs.items())


# --- caching and running ---------------------------------------------------------------------

# A change to this compiler must not reuse stylesheets an older one wrote.
_COMPILER_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def stylesheet_path(schema_path: Path, cache_dir: Path) -> Path:
    """Where the compiled form of this very schema file, by this very compiler, is cached."""
    key = hashlib.sha256(schema_path.read_bytes()).hexdigest()[:16]
    return cache_dir / f"{schema_path.stem}-{key}-{_COMPILER_DIGEST}.xsl"


def compiled_stylesheet(schema_path: Path, cache_dir: Path) -> Path:
    """The compiled stylesheet for a schema file: from the cache, else compiled and stored there."""
    target = stylesheet_path(schema_path, cache_dir)
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{time.monotonic_ns()}.tmp")
        partial.write_text(compile_schematron(schema_path.read_bytes()), encoding="utf-8")
        partial.replace(target)  # atomic: a parallel run never reads half a stylesheet
    return target


class SchematronRunner:
    """One Schematron schema loaded into SaxonC, ready to check any number of documents.

    Saxon compiles the generated stylesheet once here (the slow part: about 0.3 s for the
    EN 16931 rules on one core); `check` then costs a few milliseconds per invoice.
    """

    def __init__(self, schema_path: Path, cache_dir: Path, processor: Any | None = None) -> None:
        from saxonche import PySaxonProcessor  # dev tooling: the Lambdas never import this module

        self.schema_path = schema_path
        self.stylesheet_path = compiled_stylesheet(schema_path, cache_dir)
        self._processor = processor or PySaxonProcessor(license=False)
        started = time.perf_counter()
        compiler = self._processor.new_xslt30_processor()
        self._executable = compiler.compile_stylesheet(stylesheet_file=str(self.stylesheet_path))
        self.compile_seconds = time.perf_counter() - started

    def check(self, document: str | bytes) -> list[Failure]:
        text = document.decode("utf-8") if isinstance(document, bytes) else document
        # Saxon parses the text itself; a leading XML declaration naming UTF-8 is fine in a str.
        node = self._processor.parse_xml(xml_text=text)
        self._executable.set_global_context_item(xdm_item=node)
        svrl = self._executable.transform_to_string(xdm_node=node)
        if svrl is None:
            raise SchematronError(f"{self.schema_path.name}: the stylesheet produced no report")
        return list(_read_svrl(svrl, self.schema_path.name))


def _read_svrl(svrl: str, rule_set: str) -> Iterable[Failure]:
    root = ET.fromstring(svrl.encode("utf-8"))
    for element in root:
        if element.tag == f"{_V}failed-assert":
            kind: Literal["assert", "report"] = "assert"
        elif element.tag == f"{_V}successful-report":
            kind = "report"
        else:
            continue
        yield Failure(
            rule_id=element.get("id", ""),
            flag=element.get("flag", "fatal"),
            location=element.get("location", ""),
            text=" ".join("".join(element.itertext()).split()),
            test=element.get("test", ""),
            kind=kind,
            rule_set=rule_set,
        )
