"""The Schematron-to-XSLT compiler keeps ISO Schematron's semantics, shown on schemas small enough
to reason about. The official rule sets are exercised in tests/contract/test_peppol_validation.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from laddvakt.schematron import SchematronError, SchematronRunner, compile_schematron, compiled_stylesheet

pytestmark = pytest.mark.unit

SCHEMA = """<?xml version="1.0" encoding="UTF-8"?>
<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <ns prefix="o" uri="urn:test:order"/>
  <ns prefix="f" uri="urn:test:functions"/>
  <ns prefix="xs" uri="http://www.w3.org/2001/XMLSchema"/>
  <let name="currency" value="/o:order/@currency"/>
  <function xmlns="http://www.w3.org/1999/XSL/Transform" name="f:double" as="xs:decimal">
    <param name="value" as="xs:decimal"/>
    <sequence select="$value * 2"/>
  </function>
  <pattern id="first-rule-wins">
    <rule context="o:line[@kind = 'fee']">
      <assert id="FEE" test="xs:decimal(@amount) le 10" flag="warning">A fee of <value-of select="@amount"/> is high.</assert>
    </rule>
    <rule context="o:line">
      <let name="limit" value="f:double(50)"/>
      <assert id="LINE" test="xs:decimal(@amount) le $limit">Line <value-of select="@id"/> on <name/> exceeds {100}.</assert>
    </rule>
  </pattern>
  <pattern id="second-pattern-sees-the-same-nodes">
    <let name="lines" value="count(//o:line)"/>
    <rule context="o:line" flag="fatal">
      <report id="ANY-CURRENCY-LINE" test="$currency = 'EUR'">EUR line of <value-of select="$lines"/>.</report>
    </rule>
    <rule context="@currency">
      <assert id="CURRENCY" test="matches(., '^[A-Z]{3}$')" flag="fatal">Currency code.</assert>
    </rule>
  </pattern>
  <pattern abstract="true" id="required">
    <rule context="$parent">
      <assert id="$id" test="exists($child)" flag="fatal">Missing child.</assert>
    </rule>
  </pattern>
  <pattern is-a="required" id="order-has-customer">
    <param name="parent" value="o:order"/>
    <param name="child" value="o:customer"/>
    <param name="id" value="CUSTOMER"/>
  </pattern>
  <pattern id="abstract-rules">
    <rule abstract="true" id="named">
      <assert id="NAMED" test="@name" flag="fatal">Unnamed.</assert>
    </rule>
    <rule context="o:customer">
      <extends rule="named"/>
    </rule>
  </pattern>
</schema>
"""

GOOD = '<order xmlns="urn:test:order" currency="SEK"><customer name="A"/><line id="1" amount="100"/></order>'


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> SchematronRunner:
    folder = tmp_path_factory.mktemp("schematron")
    schema = folder / "test.sch"
    schema.write_text(SCHEMA)
    return SchematronRunner(schema, folder / "cache")


def ids(runner: SchematronRunner, document: str) -> list[str]:
    return sorted(f.rule_id for f in runner.check(document))


def test_a_valid_document_has_no_failures(runner: SchematronRunner) -> None:
    assert runner.check(GOOD) == []


def test_within_a_pattern_only_the_first_matching_rule_tests_a_node(runner: SchematronRunner) -> None:
    # A fee line of 200 matches both rules of the first pattern; only the first (FEE) applies.
    document = GOOD.replace('<line id="1" amount="100"/>', '<line id="2" kind="fee" amount="200"/>')
    [failure] = runner.check(document)
    assert (failure.rule_id, failure.flag, failure.text) == ("FEE", "warning", "A fee of 200 is high.")


def test_rule_lets_functions_value_of_name_and_braces_in_text(runner: SchematronRunner) -> None:
    [failure] = runner.check(GOOD.replace('amount="100"', 'amount="101"'))
    assert failure.rule_id == "LINE"
    assert failure.flag == "fatal"  # no flag anywhere: treated as blocking
    assert failure.text == "Line 1 on line exceeds {100}."
    assert failure.location == "/order[1]/line[1]"
    assert failure.kind == "assert"


def test_every_pattern_walks_the_whole_document_attributes_included(runner: SchematronRunner) -> None:
    document = GOOD.replace('currency="SEK"', 'currency="EUR"').replace(
        '<line id="1"', '<line id="1" currency="eu"'
    )
    failures = runner.check(document)
    assert sorted(f.rule_id for f in failures) == ["ANY-CURRENCY-LINE", "CURRENCY"]
    report = next(f for f in failures if f.kind == "report")
    assert (report.flag, report.text) == ("fatal", "EUR line of 1.")  # the rule's flag, a pattern let
    assert next(f for f in failures if f.kind == "assert").location == "/order[1]/line[1]/@currency"


def test_abstract_patterns_and_abstract_rules_are_instantiated(runner: SchematronRunner) -> None:
    assert ids(runner, GOOD.replace('<customer name="A"/>', "")) == ["CUSTOMER"]
    assert ids(runner, GOOD.replace('<customer name="A"/>', "<customer/>")) == ["NAMED"]


def test_the_compiled_stylesheet_is_cached_by_schema_and_compiler(tmp_path: Path) -> None:
    schema = tmp_path / "test.sch"
    schema.write_text(SCHEMA)
    first = compiled_stylesheet(schema, tmp_path / "cache")
    first.write_text(first.read_text() + "<!-- untouched -->")
    assert compiled_stylesheet(schema, tmp_path / "cache").read_text().endswith("<!-- untouched -->")
    schema.write_text(SCHEMA.replace("le 10", "le 11"))
    assert compiled_stylesheet(schema, tmp_path / "cache") != first


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ('<schema xmlns="http://purl.oclc.org/dsdl/schematron"/>', "queryBinding"),
        ("<schema/>", "not an ISO Schematron schema"),
        (
            '<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2"><include href="x.sch"/></schema>',
            "include",
        ),
        (
            '<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2"><let name="a" value="1"/>'
            '<pattern><let name="a" value="2"/></pattern></schema>',
            "defined twice",
        ),
    ],
)
def test_what_it_cannot_honour_is_refused_not_skipped(schema: str, message: str) -> None:
    with pytest.raises(SchematronError, match=message):
        compile_schematron(schema.encode())
