"""The built-in offline model: deterministic, no network, same code path as a real one.

Read it in this order:

- ``transport``: an in-process Chat Completions server; ``agents.llm.client``
  hands it to the ``openai`` SDK when ``LLM_PROVIDER=offline``.
- ``respond``: what the model does with a request, decided by its structure
  (which tools it offers, whether tool results came back) and by ``classify``.
- ``classify``: which kind of message it is (a tool request, a comparison or a
  request of several parts, or plain talk) and which kind of step an executor has.
- ``messages``: reading a request (tool rounds, tool errors, step tasks), and
  the ``Say``/``Call`` answers.
- The scripted replies: ``plans`` (``create_plan`` arguments), ``steps``
  (an executor's answer), ``tool_results`` (what tool calls gave),
  ``synthesis`` (the final answer), ``small_talk``; ``replan`` (replanning
  after a step failed); ``phrases`` (small text helpers they share).
"""
