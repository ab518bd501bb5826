"""The admin a person uses to inspect what the agents did.

History (runs, agents, plans, steps, executions, LLM conversations, events,
approvals) is read-only: it is the record of what happened, so nobody adds,
edits or deletes it here; it goes only with its chat session
(sessions/admin.py). Each module registers the admin of one part of that
history; ``rendering`` draws the HTML fragments they show (escaped, since
everything the models wrote is untrusted), ``costs`` adds the page of what each
user spent.
"""

# Imported for their registrations with the admin site.
from . import agents, approvals, executions, memories, plans, runs, timeline  # noqa: F401
