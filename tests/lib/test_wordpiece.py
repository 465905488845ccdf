"""nblib.nn.wordpiece against Hugging Face: our WordPiece tokenizer gives the pieces and ids of
transformers' BertTokenizer (Python) and of the tokenizers library (Rust, tokenizer.json) on
all-MiniLM-L6-v2's vocabulary, on text with punctuation, accents, unknown words, CJK, control
characters and odd white space."""
import pytest
import torch

from nblib.nn.bert import minilm_dir
from nblib.nn.wordpiece import WordPieceTokenizer, basic_tokenize

transformers = pytest.importorskip("transformers")

SENTENCES = [
    "The cat sat on the mat.",
    "Héllo, wörld! Don't panic: it's 3.14159... (really) [maybe] {x} <y> a+b=c ^_^ ~$5 #1 @me",
    "naïve café résumé Ångström ÉCOLE Straße İstanbul",
    "supercalifragilisticexpialidocious antidisestablishmentarianism tokenization",
    "emoji 🤖 and symbols ☃ ™ are unknown; so is ✓",
    "東京 is Tokyo, 北京 is Beijing",
    "tabs\tand\nnew lines\r\nand\u00a0no-break\u2003spaces",
    "control\u0000chars\u200bzero\ufeffwidth\u0007bell",
    "x" * 101 + " long words become [UNK]",
    "UPPER lower MiXeD 123abc abc123 3rd 1,000,000",
    "em—dash en–dash “quotes” «guillemets» ‘single’ … ellipsis",
    "special tokens [CLS] [SEP] [MASK] stay whole, [sep] and [ UNK ] do not",
    "",
    "   ",
]


@pytest.fixture(scope="module")
def ours():
    return WordPieceTokenizer.from_file(minilm_dir() / "vocab.txt", max_length=256)


@pytest.fixture(scope="module", params=["python", "rust"])
def reference(request):
    path = str(minilm_dir())
    if request.param == "python":
        return transformers.BertTokenizer.from_pretrained(path)
    return transformers.AutoTokenizer.from_pretrained(path)  # the fast, tokenizers-backed one


@pytest.mark.parametrize("text", SENTENCES)
def test_pieces_equal_the_reference(ours, reference, text):
    assert ours.tokenize(text) == reference.tokenize(text)


def test_ids_of_a_padded_batch_equal_the_reference(ours, reference):
    texts = [t for t in SENTENCES if t.strip()]
    got = ours(texts)
    ref = reference(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert torch.equal(got[key], ref[key]), key


@pytest.mark.parametrize("max_length", [2, 5, 12])
def test_truncation_keeps_cls_and_sep(ours, reference, max_length):
    text = SENTENCES[1]
    got = ours(text, max_length=max_length)["input_ids"]
    ref = reference(text, truncation=True, max_length=max_length, return_tensors="pt")
    assert torch.equal(got, ref["input_ids"])
    assert got.shape == (1, max_length)


def test_greedy_longest_match_first():
    tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able",
                              "una", "##ffable", "##a"])
    assert tok.wordpiece("unaffable") == ["una", "##ffable"]      # longest first piece wins
    assert tok.wordpiece("unab") == ["[UNK]"]                     # no piece for "b"
    assert tok.tokenize("Un-affable!") == ["un", "[UNK]", "[UNK]", "[UNK]"]
    assert basic_tokenize("Don't", lowercase=False) == ["Don", "'", "t"]


def test_bad_input_gets_a_clear_error(ours):
    with pytest.raises(TypeError, match="str"):
        ours([1, 2])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        WordPieceTokenizer(["a", "b"])
    with pytest.raises(ValueError, match="max_length"):
        ours("hi", max_length=1)
