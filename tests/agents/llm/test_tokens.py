"""Token counts (agents.llm.tokens): the offline model's count and our estimate."""

from agents.llm.tokens import count_tokens, estimate_tokens


def test_count_tokens_counts_words_and_punctuation():
    assert count_tokens("Hello, world! 17*23 = 391.") == 10
    assert count_tokens("") == 0


def test_estimate_tokens_takes_the_larger_count():
    assert estimate_tokens("") == 0
    assert estimate_tokens("a b c d e f") == 6  # words beat characters / 4
    assert estimate_tokens("x" * 40) == 10  # characters / 4 beat one long word
