"""Answers as markdown (static/chat/js/markdown.js: vendored marked + DOMPurify) in the system Chromium.

A scripted GPT-style answer streams in small pieces; the page must draw its
tables, task lists, links, quotes, rules and code blocks, keep earlier blocks
still while later words arrive, and never run what the model wrote as HTML.
"""

import pytest

from tests.support.stub_model import Text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GPT_STYLE_ANSWER = """## Morning drinks

Here is a *short* comparison, with **bold** claims and ~~one retracted~~ point.

| Drink  | Caffeine (mg) | Taste |
|:-------|--------------:|:-----:|
| Tea    | 40            | mild  |
| Coffee | 95            | bold  |

1. Boil water
2. Steep:
   1. tea for 3 minutes
   2. coffee for 4 minutes
3. Enjoy

- [x] buy beans
- [ ] buy leaves

> Moderation matters.

---

See [the docs](https://example.com/docs) or mail <mailto:help@example.com>.

```python
def brew(kind):
    return f"{kind} <ready>"
```

Inline `code` ends it.
"""

# Each line tries another way to run script; the page is opened with the CSP bypassed, so only the
# renderer and the sanitizer stand between these and the page.
XSS_ANSWER = """Payloads follow.

<img src=x onerror="window.__pwned='img'">

<script>window.__pwned='script'</script>

<svg onload="window.__pwned='svg'"><circle r="4"/></svg>

<iframe src="javascript:window.__pwned='iframe'"></iframe>

<details open ontoggle="window.__pwned='details'">x</details>

[a js link](javascript:window.__pwned='link')

[a data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)

![an image](https://tracker.example/pixel.png "t")

<a href="javascript:window.__pwned='anchor'" onclick="window.__pwned='click'">raw anchor</a>

<form action="https://evil.example"><input name=q autofocus onfocus="window.__pwned='focus'"></form>

Inline <b onmouseover="window.__pwned='b'">bold tag</b> and <style>body{display:none}</style> end.
"""

# Records every node removed from the answer, and the first block once it exists: a block that was
# already drawn must stay the same node while later words stream in (no flicker, selection kept).
FLICKER_SCRIPT = """
window.__removed = [];
window.__firstBlock = null;
new MutationObserver((records) => {
  const answer = document.querySelector(".run .answer");
  if (answer && !window.__firstBlock && answer.firstElementChild && answer.children.length > 1) {
    window.__firstBlock = answer.firstElementChild;
  }
  for (const record of records) {
    for (const node of record.removedNodes) {
      if (node === window.__firstBlock) window.__removed.push("first block");
    }
  }
}).observe(document, { subtree: true, childList: true });
"""


def test_gpt_style_answer_renders_as_markdown_while_it_streams(open_browser, user, stub_model):
    stub_model.responder = lambda request: Text(GPT_STYLE_ANSWER, chunks=60, chunk_delay=0.01)
    ui = open_browser()
    page = ui.page
    ui.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui.base_url)
    page.add_init_script(FLICKER_SCRIPT)
    ui.login(user.username)
    page.fill("#message", "compare morning drinks")
    page.keyboard.press("Enter")

    run = page.locator(".run[data-status=completed]")
    run.wait_for()
    answer = run.locator(".answer")
    ui.screenshot("md-01-gpt-style-answer")
    ui.screenshot_at_widths("shot-markdown-answer")

    assert answer.locator("h2").inner_text() == "Morning drinks"
    assert answer.locator("em").first.inner_text() == "short"
    assert answer.locator("strong").first.inner_text() == "bold"
    assert answer.locator("del").inner_text() == "one retracted"
    # The table: a header row, two body rows, alignment kept, in a box that scrolls on its own.
    table = answer.locator(".table-wrap > table")
    assert table.locator("th").all_inner_texts() == ["Drink", "Caffeine (mg)", "Taste"]
    assert table.locator("tbody tr").count() == 2
    assert table.locator("td").nth(1).get_attribute("align") == "right"
    assert table.locator("td").nth(1).evaluate("e => getComputedStyle(e).textAlign") == "right"
    # Nested ordered list: one outer list of three, numbering not restarted by the inner one.
    outer = answer.locator(".markdown > ol, ol").first
    assert outer.locator(":scope > li").count() == 3
    assert outer.locator(":scope > li").nth(1).locator("ol > li").all_inner_texts() == [
        "tea for 3 minutes",
        "coffee for 4 minutes",
    ]
    # Task list: disabled checkboxes, the first ticked.
    boxes = answer.locator("li > input[type=checkbox]")
    assert boxes.count() == 2
    assert [boxes.nth(0).is_checked(), boxes.nth(1).is_checked()] == [True, False]
    assert all(boxes.nth(i).is_disabled() for i in range(2))
    assert answer.locator("blockquote").inner_text() == "Moderation matters."
    assert answer.locator("hr").count() == 1
    # Links open in a new tab, safely.
    link = answer.locator("a", has_text="the docs")
    assert link.get_attribute("href") == "https://example.com/docs"
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener noreferrer"
    mail = answer.locator("a[href='mailto:help@example.com']")
    assert mail.get_attribute("rel") == "noopener noreferrer"
    assert mail.inner_text() == "help@example.com", "a bare <mailto:…> autolink shows the address"
    assert "or mail help@example.com." in answer.inner_text()
    # The code block: its language, its text exactly, and a copy button that copies it.
    block = answer.locator(".code-block")
    assert block.get_attribute("data-lang") == "python"
    assert block.locator(".code-lang").inner_text() == "python"
    code = 'def brew(kind):\n    return f"{kind} <ready>"'
    assert block.locator("pre code").inner_text() == code
    block.locator(".code-copy").click()
    page.wait_for_selector(".code-copy[data-copied]")
    assert page.evaluate("navigator.clipboard.readText()") == code
    assert answer.locator("p code").last.inner_text() == "code"
    # Nothing was drawn as raw markdown.
    text = answer.inner_text()
    for raw in ("|---", "**", "~~", "```", "- [x]", "## "):
        assert raw not in text, raw

    # Streaming did not redraw what was already there.
    assert page.evaluate("window.__firstBlock !== null")
    assert page.evaluate("window.__removed") == []
    assert page.evaluate("document.querySelector('.run .answer').firstElementChild === window.__firstBlock")

    # The copy button under the answer copies the markdown source.
    run.locator(".copy-answer").click()
    page.wait_for_selector(".copy-answer[data-copied]")
    assert page.evaluate("navigator.clipboard.readText()") == GPT_STYLE_ANSWER

    # The same markdown after a reload, from the stored message.
    page.reload()
    page.wait_for_selector(".run[data-status=completed] .answer .code-block")
    stored = page.locator(".run .answer")
    assert stored.locator(".table-wrap table tbody tr").count() == 2
    assert stored.locator("a", has_text="the docs").get_attribute("rel") == "noopener noreferrer"


def test_model_html_never_executes(open_browser, user, stub_model):
    stub_model.responder = lambda request: Text(XSS_ANSWER, chunks=25, chunk_delay=0.005)
    ui = open_browser()  # CSP bypassed: the sanitizer alone must hold
    page = ui.page
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    ui.login(user.username)
    page.fill("#message", "show me some html")
    page.keyboard.press("Enter")
    run = page.locator(".run[data-status=completed]")
    run.wait_for()
    ui.screenshot("md-02-xss-inert")
    answer = run.locator(".answer")

    assert answer.locator("img, script, svg, iframe, details, style, form, object, embed").count() == 0
    # Raw HTML is shown as the text it is, like any other characters.
    text = answer.inner_text()
    assert "<img src=x onerror=" in text
    assert "<script>" in text
    assert "<b onmouseover=" in text
    # Only http(s) and mailto links survive; the others are text without a target.
    hrefs = answer.locator("a").evaluate_all("nodes => nodes.map(n => n.getAttribute('href'))")
    assert hrefs == ["https://tracker.example/pixel.png"], hrefs  # the image, shown as a link
    assert answer.locator("a", has_text="an image").get_attribute("rel") == "noopener noreferrer"
    for name in ("a js link", "a data link", "raw anchor"):
        node = answer.get_by_text(name, exact=False).first
        node.click()  # a click on what is left of them runs nothing
    answer.get_by_text("bold tag", exact=False).hover()
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("getComputedStyle(document.body).display") != "none"
    assert not [url for url in requests if "tracker.example" in url or "evil.example" in url]
    assert len(page.context.pages) == 1


# Every state the answer was drawn in while it streamed: whether it had a code block, the code so far,
# and whether any paragraph held a line of the code.
ANSWER_LOG_SCRIPT = """
window.__drawn = [];
new MutationObserver(() => {
  const answer = document.querySelector(".run.is-running .answer");
  if (!answer) return;
  const code = answer.querySelector(".code-block pre code");
  const strayCode = [...answer.querySelectorAll("p")].some((p) => p.textContent.includes("echo"));
  window.__drawn.push({ code: code ? code.textContent : null, strayCode });
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def test_code_block_streams_without_a_half_drawn_frame(open_browser, user, stub_model):
    """An unclosed fence while streaming is already a code block, not paragraphs that jump into one later."""
    answer = "Run this:\n\n```bash\necho one\necho two\necho three\n```\n\nDone."
    pieces = ["Run this:\n\n", "```bash\necho one\n", "echo two\n", "echo three\n```\n\nDone."]
    stub_model.responder = lambda request: Text(answer, chunks=pieces, chunk_delay=0.5)
    ui = open_browser()
    page = ui.page
    page.add_init_script(ANSWER_LOG_SCRIPT)
    ui.login(user.username)
    page.fill("#message", "how do I print three lines?")
    page.keyboard.press("Enter")
    page.wait_for_selector(".run[data-status=completed]")
    drawn = page.evaluate("window.__drawn")
    assert not any(state["strayCode"] for state in drawn), "a line of code was drawn as a paragraph"
    partial = {state["code"] for state in drawn if state["code"] and "three" not in state["code"]}
    assert partial, f"the open fence was drawn as code while it streamed: {drawn}"
    code = page.locator(".run .answer .code-block")
    assert code.locator(".code-lang").inner_text() == "bash"
    assert code.locator("pre code").inner_text() == "echo one\necho two\necho three"


def test_model_html_is_inert_under_the_pages_policy_too(open_browser, user, stub_model):
    """The same payloads with the Content-Security-Policy on: nothing is refused, because nothing tries.

    The browser reports each refusal of the policy as a console error, which fails the test
    (``open_browser``): a payload that got past the sanitizer would show up here even if the
    policy stopped it.
    """
    stub_model.responder = lambda request: Text(XSS_ANSWER)
    ui = open_browser(bypass_csp=False)
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "show me some html again")
    page.keyboard.press("Enter")
    run = page.locator(".run[data-status=completed]")
    run.wait_for()
    assert "<script>" in run.locator(".answer").inner_text()
    assert run.locator(".answer script, .answer img, .answer iframe").count() == 0
    assert page.evaluate("window.__pwned") is None
