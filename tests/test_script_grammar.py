"""Generated PowerShell scripts through the real PowerShell grammar (tree-sitter-powershell), in
addition to the project's own tokenizer (support/ps_replay.py): every script parses without an
error or missing node, every argument of exoform's cmdlets is a literal (strings, [char]
concatenations, numbers, $true/$false/$null, arrays and @{Add=..; Remove=..} of literals; only
-WhatIf takes $WhatIfPreference), and both parsers find the same cmdlets."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from support.ps_replay import script_calls
from support.workspace import Workspace
from exoform.views.powershell import CMDLETS

tree_sitter = pytest.importorskip("tree_sitter")
grammar = pytest.importorskip("tree_sitter_powershell")
PARSER = tree_sitter.Parser(tree_sitter.Language(grammar.language()))

# Node types a literal value may be made of (the grammar wraps every expression in many layers).
LITERAL_NODES = frozenset({
    "string_literal", "verbatim_string_characters", "integer_literal", "decimal_integer_literal",
    "array_expression", "statement_list", "pipeline", "pipeline_chain", "logical_expression",
    "bitwise_expression", "comparison_expression", "additive_expression", "multiplicative_expression",
    "format_expression", "range_expression", "array_literal_expression", "unary_expression",
    "parenthesized_expression", "expression_with_unary_operator", "cast_expression", "type_literal",
    "type_spec", "type_name", "hash_literal_expression", "hash_literal_body", "hash_entry", "key_expression",
    "simple_name", "(", ")", "@(", "@{", "}", ",", ";", "=", "+", "[", "]",
})
CONSTANTS = {b"$true", b"$false", b"$null"}
HOSTILE = "it's $(Remove-Mailbox ceo) `n \"x\" ; # \u00dc \u2019"
BASE: dict[str, Any] = {"gateway": {"ip_ranges": ["203.0.113.0/24", "198.51.100.7"], "tenant_info": HOSTILE},
                        "protection": {"mode": "inline", "directions": ["inbound", "outbound"],
                                       "scope": {"users": "all"}}}


def nodes(node: Any) -> Iterator[Any]:
    yield node
    for child in node.children:
        yield from nodes(child)


def literal_problem(node: Any, parameter: bytes) -> str | None:
    for part in nodes(node):
        if part.type == "variable":
            if part.text in CONSTANTS or (parameter == b"-WhatIf" and part.text == b"$WhatIfPreference"):
                continue
            return f"variable {part.text!r}"
        if part.type == "type_identifier":
            if part.text.lower() != b"char":
                return f"type {part.text!r}"
            continue
        if part.type not in LITERAL_NODES:
            return f"{part.type} {part.text[:40]!r}"
    return None


def check_script(script: str) -> int:
    """Parse `script` with the real grammar; returns how many of exoform's cmdlets it runs."""
    tree = PARSER.parse(script.encode("ascii"))
    broken = [n for n in nodes(tree.root_node) if n.type == "ERROR" or n.is_missing]
    assert not tree.root_node.has_error and not broken, [n.text[:80] for n in broken]
    found = 0
    for command in (n for n in nodes(tree.root_node) if n.type == "command"):
        name = command.child_by_field_name("command_name") or command.children[0]
        if name.text.decode() not in CMDLETS:
            continue
        found += 1
        elements = next(c for c in command.children if c.type == "command_elements")
        parameter = b""
        for element in elements.children:
            if element.type == "command_parameter":
                parameter = element.text
            elif element.type != "command_argument_sep":
                problem = literal_problem(element, parameter)
                assert problem is None, f"{name.text.decode()} {parameter.decode()}: {problem}"
    return found


def scripts(workspace: Workspace) -> Iterator[str]:
    """Scripts of real plans: install, enabling, monitoring with selected users, a rename
    (replacements), hostile values, an uninstall."""
    workspace.write_tenant({"recipients": [{"address": "alice@contoso.com", "type": "UserMailbox"}]})
    for config in (BASE,
                   {**BASE, "gateway": {**BASE["gateway"], "name_prefix": "Gateway \u00dc 'x'"}},
                   {**BASE, "protection": {"mode": "monitoring", "directions": ["inbound"],
                                           "scope": {"users": "selected", "recipients": ["alice@contoso.com"]}},
                    "rules": {"enabled": True}}):
        workspace.write_config(config)
        code, out, err = workspace.run("script")
        assert code == 0, err
        yield out
        assert workspace.run("apply", "--auto-approve")[0] == 0
    code, out, err = workspace.run("script", "--destroy")
    assert code == 0, err
    yield out


def test_every_script_parses_and_every_argument_is_a_literal(workspace: Workspace) -> None:
    seen = 0
    for script in scripts(workspace):
        assert check_script(script) == len(script_calls(script))
        seen += len(script_calls(script))
    assert seen > 15


def test_the_exchange_script_checks_the_session_and_its_tenant_first(emulated_workspace: Workspace) -> None:
    workspace = emulated_workspace
    workspace.write_config(BASE)
    code, script, err = workspace.run("script")
    assert code == 0, err
    assert check_script(script) == len(script_calls(script)) == 6
    code_lines = [line for line in script.splitlines() if line and not line.startswith("#")]
    tenant = workspace.tenant_block()["tenant_id"]
    assert code_lines[3] == "$exoformSessions = @(Get-ConnectionInformation)"
    assert "Connect-ExchangeOnline" in code_lines[4] and tenant in code_lines[5]
    assert code_lines[6].startswith("Set-HostedConnectionFilterPolicy ")  # the first change comes after
    assert all(line.endswith(" -WhatIf:$WhatIfPreference") for line in code_lines[6:])


def test_the_grammar_flags_what_exoform_must_never_write() -> None:
    with pytest.raises(AssertionError):
        check_script("New-TransportRule -Name \"$(Remove-Mailbox ceo)\"\n")
    with pytest.raises(AssertionError):
        check_script("New-TransportRule -Name $name\n")
    with pytest.raises(AssertionError):
        check_script("New-TransportRule -Name 'a\n")
