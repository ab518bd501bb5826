"""Tool schemas and argument messages stay what they were before a pydantic model built them.

Every ``EXPECTED_*`` below was computed by the registry's old type compiler
and docstring parser, before they gave way to ``pydantic.create_model`` and
docstring-parser (issue 13), and is kept here as literal data. The JSON text
is compared, not only the values: the model must be sent the same bytes
(same keys, same order) and read the same messages.
"""

import json
from types import SimpleNamespace
from typing import Literal, Optional

import pytest

from agents.tools import ToolContext, ToolRegistry, default_registry
from agents.tools.mcp import ServerStatus, build_tools
from agents.tools.registry import InvalidArguments
from agents_platform.mcp_config import parse_servers

BUILTIN_NAMES = ["get_current_time", "calculate", "search_history", "recall", "remember", "forget", "rename_session"]
EXPECTED_READ_ONLY = ["get_current_time", "calculate", "search_history", "recall"]

EXPECTED_BUILTIN = [
    {
        "type": "function",
        "function": {
            "name": "get_current_time",
            "description": "Get the current date and time, optionally in a given time zone.",
            "parameters": {
                "type": "object",
                "properties": {
                    "timezone": {
                        "description": "An IANA time zone name "
                        'such as "Europe/Paris" '
                        'or "America/New_York". '
                        "Defaults to UTC.",
                        "type": ["string", "null"],
                    }
                },
                "required": [],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "calculate",
            "description": "Evaluate an arithmetic expression exactly and safely. Use it for "
            "any arithmetic instead of guessing.",
            "parameters": {
                "type": "object",
                "properties": {
                    "expression": {
                        "description": "Numbers with + - * / "
                        "// % ** and "
                        "parentheses, the "
                        "constants pi, e, tau, "
                        "and the functions abs, "
                        "round, min, max, sqrt, "
                        "floor, ceil, exp, log, "
                        "log10, log2, sin, cos, "
                        'tan. Example: "(2 + 3) '
                        '* 4 ** 2".',
                        "type": "string",
                    }
                },
                "required": ["expression"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_history",
            "description": "Search the user's own past chat messages, across all their sessions, newest first.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"description": "Text the messages must contain (case-insensitive).", "type": "string"},
                    "limit": {
                        "description": "How many messages to return, at most 20.",
                        "type": "integer",
                        "default": 5,
                    },
                },
                "required": ["query"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "recall",
            "description": "List the memories the user asked you to keep, newest first, or only "
            "those containing some text.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {
                        "description": "Text the memories must "
                        "contain (case-insensitive). "
                        "Leave it out to list them "
                        "all.",
                        "type": ["string", "null"],
                    },
                    "limit": {
                        "description": "How many memories to return, at most 50.",
                        "type": "integer",
                        "default": 10,
                    },
                },
                "required": [],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "remember",
            "description": "Save a memory for the user: a fact or preference they asked you to "
            "remember for later conversations.",
            "parameters": {
                "type": "object",
                "properties": {
                    "content": {
                        "description": "What to remember, in one or two sentences (at most 2000 characters).",
                        "type": "string",
                    }
                },
                "required": ["content"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "forget",
            "description": "Delete one of the user's saved memories. Find its id with recall first.",
            "parameters": {
                "type": "object",
                "properties": {
                    "memory_id": {"description": "The id of the memory, as recall returned it.", "type": "string"}
                },
                "required": ["memory_id"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "rename_session",
            "description": "Give the current chat session a new title.",
            "parameters": {
                "type": "object",
                "properties": {
                    "title": {
                        "description": "The new title: short, a few words (longer titles are cut at 200 characters).",
                        "type": "string",
                    }
                },
                "required": ["title"],
                "additionalProperties": False,
            },
        },
    },
]


def test_builtin_tool_schemas_are_unchanged():
    offered = [
        spec for spec in default_registry.schemas(permission="read_write") if spec["function"]["name"] in BUILTIN_NAMES
    ]
    assert offered == EXPECTED_BUILTIN
    assert json.dumps(offered) == json.dumps(EXPECTED_BUILTIN)
    read_only = [spec["function"]["name"] for spec in default_registry.schemas(permission="read_only")]
    assert [name for name in read_only if name in BUILTIN_NAMES] == EXPECTED_READ_ONLY


@pytest.fixture
def local():
    """A registry holding a tool of every supported hint, and tools of other docstring layouts."""
    registry = ToolRegistry()

    @registry.tool(kind="read")
    def every_hint(
        ctx: ToolContext,
        text: str,
        count: int,
        ratio: float,
        flag: bool,
        mode: Literal["fast", "slow"],
        level: Literal[1, 2, 3],
        mixed: Literal["a", 1, 2.5, True],
        single: Literal["only"],
        words: list[str],
        grid: list[list[int]],
        choices: list[Literal["x", "y"]],
        maybe_text: str | None,
        maybe_level: Literal[1, 2] | None,
        maybe_words: list[str] | None,
        old_optional: Optional[int],  # noqa: UP045 (the old spelling must work too)
        items_maybe: list[str | None] = [],  # noqa: B006 (never mutated; a list default must render)
        with_default: int = 3,
        float_default: float = 0.5,
        bool_default: bool = False,
        none_default: str | None = None,
        text_default: str | None = "hi",
        list_default: list[int] = [1, 2],  # noqa: B006 (never mutated; a list default must render)
        *,
        keyword_only: str = "k",
    ) -> dict:
        """Exercise every supported hint.

        Args:
            text: Some text,
                over two lines.
            count (int): A count.
            mode: The mode.
            **keyword_only: A keyword-only one.
        """
        return {}

    @registry.tool(kind="write", name="no-args")
    def no_args(ctx: ToolContext) -> None:
        """Take nothing.

        More text here.
        """

    @registry.tool(kind="read")
    def sections(ctx: ToolContext, a: str, b: int = 1) -> None:
        """Describe with numpy-ish sections
        continued here.

        Parameters:
            a: The a.
            b: The b.

        Returns:
            Nothing.

        Raises:
            ToolError: Never.
        """

    @registry.tool(kind="read")
    def other_headers(ctx: ToolContext, a: str, b: int = 1) -> None:
        """Use the Arguments header.
        Arguments:
            a: The a,
              continued.
            b: The b.
        Note:
            Not an argument: x.
        """

    return registry


EXPECTED_LOCAL = [
    {
        "type": "function",
        "function": {
            "name": "every_hint",
            "description": "Exercise every supported hint.",
            "parameters": {
                "type": "object",
                "properties": {
                    "text": {"description": "Some text, over two lines.", "type": "string"},
                    "count": {"description": "A count.", "type": "integer"},
                    "ratio": {"type": "number"},
                    "flag": {"type": "boolean"},
                    "mode": {"description": "The mode.", "type": "string", "enum": ["fast", "slow"]},
                    "level": {"type": "integer", "enum": [1, 2, 3]},
                    "mixed": {"type": ["string", "integer", "number", "boolean"], "enum": ["a", 1, 2.5, True]},
                    "single": {"type": "string", "enum": ["only"]},
                    "words": {"type": "array", "items": {"type": "string"}},
                    "grid": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
                    "choices": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}},
                    "maybe_text": {"type": ["string", "null"]},
                    "maybe_level": {"type": ["integer", "null"], "enum": [1, 2, None]},
                    "maybe_words": {"type": ["array", "null"], "items": {"type": "string"}},
                    "old_optional": {"type": ["integer", "null"]},
                    "items_maybe": {"type": "array", "items": {"type": ["string", "null"]}, "default": []},
                    "with_default": {"type": "integer", "default": 3},
                    "float_default": {"type": "number", "default": 0.5},
                    "bool_default": {"type": "boolean", "default": False},
                    "none_default": {"type": ["string", "null"]},
                    "text_default": {"type": ["string", "null"], "default": "hi"},
                    "list_default": {"type": "array", "items": {"type": "integer"}, "default": [1, 2]},
                    "keyword_only": {"description": "A keyword-only one.", "type": "string", "default": "k"},
                },
                "required": [
                    "text",
                    "count",
                    "ratio",
                    "flag",
                    "mode",
                    "level",
                    "mixed",
                    "single",
                    "words",
                    "grid",
                    "choices",
                ],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "no-args",
            "description": "Take nothing.",
            "parameters": {"type": "object", "properties": {}, "required": [], "additionalProperties": False},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "sections",
            "description": "Describe with numpy-ish sections continued here.",
            "parameters": {
                "type": "object",
                "properties": {
                    "a": {"description": "The a.", "type": "string"},
                    "b": {"description": "The b.", "type": "integer", "default": 1},
                },
                "required": ["a"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "other_headers",
            "description": "Use the Arguments header.",
            "parameters": {
                "type": "object",
                "properties": {
                    "a": {"description": "The a, continued.", "type": "string"},
                    "b": {"description": "The b.", "type": "integer", "default": 1},
                },
                "required": ["a"],
                "additionalProperties": False,
            },
        },
    },
]


def test_schemas_of_every_supported_hint_and_docstring_layout_are_unchanged(local):
    offered = local.schemas(permission="read_write")
    assert offered == EXPECTED_LOCAL
    assert json.dumps(offered) == json.dumps(EXPECTED_LOCAL)


# (tool, the model's arguments, "ok" or "error", the keyword arguments passed or the message the model reads)
ARGUMENT_CASES = [
    (
        "every_hint",
        "{not json",
        "error",
        ("Arguments are not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)."),
    ),
    ("every_hint", '["x"]', "error", "Arguments must be a JSON object, got array."),
    ("every_hint", "null", "error", "Arguments must be a JSON object, got null."),
    (
        "every_hint",
        "{}",
        "error",
        (
            "Missing required arguments 'text', 'count', 'ratio', 'flag', 'mode', 'level', 'mixed', 'single', "
            "'words', 'grid', 'choices'."
        ),
    ),
    (
        "every_hint",
        '{"text": 5, "zzz": 1, "yyy": 2}',
        "error",
        (
            "Unknown arguments 'zzz', 'yyy'; this tool takes: text, count, ratio, flag, mode, level, mixed, "
            "single, words, grid, choices, maybe_text, maybe_level, maybe_words, old_optional, items_maybe, "
            "with_default, float_default, bool_default, none_default, text_default, list_default, "
            "keyword_only. Missing required arguments 'count', 'ratio', 'flag', 'mode', 'level', 'mixed', "
            "'single', 'words', 'grid', 'choices'. Argument 'text' must be a string, got integer."
        ),
    ),
    (
        "every_hint",
        (
            '{"text": "t", "count": 1.0, "ratio": "0.5", "flag": 1, "mode": "medium'
            '", "level": true, "mixed": false, "single": "x", "words": "w", "grid":'
            ' [[1, "2"]], "choices": ["x", "z"], "maybe_text": 3, "maybe_level": 3,'
            ' "maybe_words": [1], "old_optional": 2.5}'
        ),
        "error",
        (
            "Argument 'count' must be an integer, got number. Argument 'ratio' must be a number, got string. "
            "Argument 'flag' must be a boolean, got integer. Argument 'mode' must be one of \"fast\", "
            "\"slow\", got \"medium\". Argument 'level' must be one of 1, 2, 3, got true. Argument 'mixed' "
            'must be one of "a", 1, 2.5, true, got false. Argument \'single\' must be one of "only", got "x". '
            "Argument 'words' must be an array, got string. Argument 'grid[0][1]' must be an integer, got "
            'string. Argument \'choices[1]\' must be one of "x", "y", got "z". Argument \'maybe_text\' must '
            "be a string, got integer. Argument 'maybe_level' must be one of 1, 2, got 3. Argument "
            "'maybe_words[0]' must be a string, got integer. Argument 'old_optional' must be an integer, got "
            "number."
        ),
    ),
    (
        "every_hint",
        (
            '{"text": "t", "count": 1, "ratio": 1e400, "flag": true, "mode": "fast"'
            ', "level": 1, "mixed": "b", "single": "only", "words": [], "grid": [],'
            ' "choices": [], "maybe_text": null, "maybe_level": null, "maybe_words"'
            ': null, "old_optional": null, "items_maybe": [null, 3]}'
        ),
        "error",
        (
            "Argument 'ratio' must be a finite number. Argument 'mixed' must be one of \"a\", 1, 2.5, true, "
            "got \"b\". Argument 'items_maybe[1]' must be a string, got integer."
        ),
    ),
    (
        "every_hint",
        '{"text": "t", "count": 1, "ratio": '
        + "9" * 400
        + (
            ', "flag": true, "mode": "fast", "level": 1, "mixed": 1, "single": "only", "words": [], '
            '"grid": [], "choices": [], "old_optional": null, "keyword_only": 5}'
        ),
        "error",
        "Argument 'ratio' is too large. Argument 'keyword_only' must be a string, got integer.",
    ),
    (
        "every_hint",
        (
            '{"text": "t", "count": 1, "ratio": 1, "flag": true, "mode": "fast", "l'
            'evel": 1, "mixed": true, "single": "only", "words": [], "grid": [], "c'
            'hoices": [], "with_default": 999999999999999999999999999999}'
        ),
        "ok",
        {
            "text": "t",
            "count": 1,
            "ratio": 1.0,
            "flag": True,
            "mode": "fast",
            "level": 1,
            "mixed": True,
            "single": "only",
            "words": [],
            "grid": [],
            "choices": [],
            "maybe_text": None,
            "maybe_level": None,
            "maybe_words": None,
            "old_optional": None,
            "with_default": 999999999999999999999999999999,
        },
    ),
    (
        "every_hint",
        '{"text": "'
        + "x" * 100
        + '", "count": 1, "ratio": 1, "flag": true, "mode": "fast", "level": 1, "mixed": "'
        + "m" * 100
        + '", "single": "only", "words": [], "grid": [], "choices": [], "'
        + "k" * 100
        + '": 1}',
        "error",
        (
            "Unknown argument 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk…'; this tool "
            "takes: text, count, ratio, flag, mode, level, mixed, single, words, grid, choices, maybe_text, "
            "maybe_level, maybe_words, old_optional, items_maybe, with_default, float_default, bool_default, "
            "none_default, text_default, list_default, keyword_only. Argument 'mixed' must be one of \"a\", "
            '1, 2.5, true, got "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm….'
        ),
    ),
    ("every_hint", '{"text": "a", "text": "b"}', "error", "Arguments are not valid JSON: duplicate key 'text'."),
    (
        "every_hint",
        "",
        "error",
        (
            "Missing required arguments 'text', 'count', 'ratio', 'flag', 'mode', 'level', 'mixed', 'single', "
            "'words', 'grid', 'choices'."
        ),
    ),
    (
        "every_hint",
        "  ",
        "error",
        (
            "Missing required arguments 'text', 'count', 'ratio', 'flag', 'mode', 'level', 'mixed', 'single', "
            "'words', 'grid', 'choices'."
        ),
    ),
    (
        "every_hint",
        '{"text": "a\\u0000b"}',
        "error",
        "Arguments are not valid JSON: it holds characters no database stores (NUL or a lone surrogate).",
    ),
    ("every_hint", 42, "error", "Arguments must be JSON text."),
    ("no-args", "", "ok", {}),
    ("no-args", "{}", "ok", {}),
    ("no-args", '{"a": 1}', "error", "Unknown argument 'a'; this tool takes: no arguments."),
    ("no-args", '{"a": 1, "b": 2}', "error", "Unknown arguments 'a', 'b'; this tool takes: no arguments."),
]


@pytest.mark.parametrize(("name", "arguments", "status", "expected"), ARGUMENT_CASES)
def test_argument_checks_pass_and_refuse_as_before(local, name, arguments, status, expected):
    spec = local.get(name)
    if status == "ok":
        assert spec.parse_arguments(arguments) == expected
    else:
        with pytest.raises(InvalidArguments) as refused:
            spec.parse_arguments(arguments)
        assert str(refused.value) == expected


EXPECTED_MCP = [
    {
        "type": "function",
        "function": {
            "name": "facts__lookup",
            "description": "Look up a fact about a topic.",
            "parameters": {
                "type": "object",
                "properties": {"topic": {"type": "string", "title": "Topic"}},
                "required": ["topic"],
                "title": "lookupArguments",
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "facts__save_note",
            "description": "Save note",
            "parameters": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "n": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
                },
                "required": ["text"],
            },
        },
    },
]


def test_mcp_tool_schemas_are_the_servers_own_unchanged():
    config = parse_servers([{"name": "facts", "url": "http://127.0.0.1:1/mcp", "read_only": ["lookup"]}])[0]
    listed = [
        SimpleNamespace(
            name="lookup",
            title=None,
            description="Look up a fact about a topic.",
            input_schema={
                "type": "object",
                "properties": {"topic": {"type": "string", "title": "Topic"}},
                "required": ["topic"],
                "title": "lookupArguments",
            },
        ),
        SimpleNamespace(
            name="save.note",
            title="Save note",
            description=None,
            input_schema={
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "n": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
                },
                "required": ["text"],
            },
        ),
    ]
    tools = build_tools(config, listed, ServerStatus(name="facts", up=True))
    offered = [spec.schema for spec in tools]
    assert offered == EXPECTED_MCP
    assert json.dumps(offered) == json.dumps(EXPECTED_MCP)
    assert [spec.kind for spec in tools] == ["read", "write"]


def test_any_parameter_name_works_even_one_a_pydantic_model_keeps_for_itself():
    registry = ToolRegistry()

    @registry.tool(kind="read")
    def odd(ctx: ToolContext, model_config: str, _private: int = 1, json: list[str] | None = None) -> dict:
        """Take names a pydantic model would refuse or shadow."""
        return {}

    parameters = registry.schemas(permission="read_only")[0]["function"]["parameters"]
    assert list(parameters["properties"]) == ["model_config", "_private", "json"]
    assert parameters["required"] == ["model_config"]
    spec = registry.get("odd")
    assert spec.parse_arguments('{"model_config": "a", "_private": 2}') == {"model_config": "a", "_private": 2}
    # The model's own field names (arg_<n>) are no way in.
    with pytest.raises(InvalidArguments, match="Unknown argument 'arg_0'"):
        spec.parse_arguments('{"arg_0": "a", "model_config": "b"}')


def test_a_docstring_that_is_not_google_style_is_refused_when_registered():
    def dashed(ctx: ToolContext, query: str) -> dict:
        """Search.

        Args:
            query -- what to look for.
        """
        return {}

    with pytest.raises(TypeError, match="cannot be read as Google style"):
        ToolRegistry().register(dashed, kind="read")
