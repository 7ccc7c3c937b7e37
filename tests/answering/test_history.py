"""The context-window guard's arithmetic: the window bounds the history, whatever the budget."""

from rag.history import first_kept_turn, history_budget, kept_turns, turn_tokens
from rag.models import model_info
from rag.types import Turn

HAIKU_4_5 = model_info("claude-haiku-4-5")  # a 200K window


def _turn(number: int, words: int) -> Turn:
    return Turn(f"Question {number}?", " ".join(["answer"] * words))


def test_a_conversation_growing_past_the_window_is_always_sent_within_it():
    rest, max_tokens = 150_000, 32_000
    turns = [_turn(n, 6_000) for n in range(40)]
    for length in range(1, len(turns) + 1):
        kept = kept_turns(turns[:length], HAIKU_4_5, rest, max_tokens, configured=1_000_000)
        assert kept  # the latest turns stay
        assert kept[-1] == turns[length - 1]
        sent = rest + sum(turn_tokens(t) for t in kept) + max_tokens
        assert sent <= HAIKU_4_5.context_window_tokens


def test_the_budget_is_the_smaller_of_the_setting_and_what_the_window_leaves():
    assert history_budget(HAIKU_4_5, 64_000, 120_000, configured=32_000) == 6_000
    assert history_budget(HAIKU_4_5, 1_000, 10_000, configured=32_000) == 32_000
    assert history_budget(HAIKU_4_5, 64_000, 190_000, configured=32_000) == 0


def test_turns_are_cut_half_a_budget_at_a_time_so_the_start_stays_put_between_cuts():
    turns = [_turn(n, 60) for n in range(30)]
    starts = [first_kept_turn(turns[:length], 400) for length in range(1, 31)]
    assert starts == sorted(starts)
    cuts = len(set(starts)) - 1
    assert cuts >= 2
    assert cuts <= len(starts) // 2  # most turns keep the start of the one before
