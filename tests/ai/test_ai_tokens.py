"""The validators' token counter: SmolLM2's own byte-level BPE, read from the bundled GGUF (no network, no weights)."""

import subprocess
import sys

from cor_incentives.ai import tokens


def test_counts_are_the_model_tokenizers_pieces_of_the_text():
    """The pieces the counter counts spell the text back byte for byte, so the count is the model's tokenization of
    exactly these bytes (nothing added, nothing dropped)."""
    vocab = tokens._vocab()
    for text in ["Paris", "The capital of France is Paris.", "naïve café — 東京 🚀", "  two  spaces\n\nand lines"]:
        ids = vocab.tokenize(text.encode("utf-8"), False, False)
        assert tokens.count_tokens(text) == len(ids) > 0
        assert b"".join(vocab.token_to_piece(i).rstrip(b"\0") for i in ids) == text.encode("utf-8")


def test_byte_level_bpe_merges_common_words_and_splits_rare_bytes():
    assert tokens.count_tokens("") == 0
    assert tokens.count_tokens(" the") == 1  # a frequent word with its space is one merged token
    assert tokens.count_tokens("the " * 50) <= 51  # merges: about one token per repeated word
    assert tokens.count_tokens("qzxqzxqzx") > 3  # no merges for rare byte runs
    assert tokens.count_tokens("🚀") >= 1 and tokens.count_tokens("x" * 4000) < 4000


def test_special_token_strings_are_counted_as_plain_text():
    """A chat-template marker in a prompt is text (several tokens), not one control token: it cannot shrink a count."""
    assert tokens.count_tokens("<|im_start|>") > 1


def test_every_process_counts_the_same_and_exits_cleanly():
    text = "Explain why the sky is blue in two sentences."
    here = tokens.count_tokens(text)
    p = subprocess.run(
        [sys.executable, "-c", f"from cor_incentives.ai.tokens import count_tokens; print(count_tokens({text!r}))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0 and p.stdout.strip() == str(here) and p.stderr == ""  # no traceback, no llama.cpp chatter
