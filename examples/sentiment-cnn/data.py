"""IMDB-style movie reviews: a small synthetic corpus written in the layout of the Stanford Large Movie
Review Dataset (aclImdb: <split>/pos/<id>_<rating>.txt, <split>/neg/...), a reader for that layout (so
the real aclImdb works too), a tokenizer and a vocabulary. Pure Python: no PyTorch needed here.

The synthetic reviews are built from sentences whose sentiment comes from adjectives, intensifiers and
negations ("not bad" is positive), padded with neutral sentences and a share of sentences of the other
polarity, so a bag of single words is not enough to get every review right.
"""
import collections
import os
import random
import re

PAD, UNK = "<pad>", "<unk>"

_SUBJECTS = ["the movie", "this film", "the plot", "the acting", "the script", "the soundtrack", "the ending",
             "the cast", "the dialogue", "the cinematography", "the lead actress", "the villain", "the pacing",
             "the director's work", "the story", "every scene", "the humour", "the second half"]
_POSITIVE = ["brilliant", "moving", "wonderful", "gripping", "superb", "charming", "funny", "beautifully shot",
             "clever", "heartfelt", "memorable", "touching", "stunning", "delightful", "convincing", "witty"]
_NEGATIVE = ["dull", "boring", "awful", "predictable", "clumsy", "forgettable", "painfully slow", "incoherent",
             "shallow", "tedious", "ridiculous", "lifeless", "bland", "irritating", "messy", "pointless"]
_INTENSIFIERS = ["", "", "really ", "truly ", "quite ", "absolutely ", "rather ", "so ", "incredibly "]
_NEUTRAL = ["I saw it on a rainy sunday.", "It runs a little over two hours.", "My brother recommended it.",
            "It is based on a novel I have not read.", "The theatre was half empty.",
            "I watched the dubbed version.", "It was released in the autumn.", "We rented it last week.",
            "There is a cameo by a famous singer.", "The trailer gives away a lot."]
_VERDICT_POS = ["I would watch it again.", "Highly recommended.", "One of the best this year.",
                "Go and see it.", "I loved it."]
_VERDICT_NEG = ["Avoid it.", "I want my two hours back.", "Not worth your time.", "Skip this one.",
                "I nearly walked out."]


def _sentence(rng, positive):
    """One opinion sentence whose sentiment is `positive`; negation flips the adjective's polarity."""
    negate = rng.random() < 0.3
    adjective_positive = positive != negate
    adjective = rng.choice(_POSITIVE if adjective_positive else _NEGATIVE)
    verb = rng.choice(["is", "was", "felt", "seemed"])
    subject = rng.choice(_SUBJECTS)
    if negate:
        return f"{subject.capitalize()} {verb} not {adjective}."
    return f"{subject.capitalize()} {verb} {rng.choice(_INTENSIFIERS)}{adjective}."


def synthetic_review(rng, positive):
    """(text, rating) of one review: rating 7..10 when positive, 1..4 when not, as in aclImdb."""
    sentences = []
    for _ in range(rng.randint(3, 9)):
        roll = rng.random()
        if roll < 0.3:
            sentences.append(rng.choice(_NEUTRAL))
        elif roll < 0.55:
            sentences.append(_sentence(rng, not positive))  # reviews mention what they did not like too
        else:
            sentences.append(_sentence(rng, positive))
    if rng.random() < 0.5:  # half the reviews end with a verdict, and a few verdicts are ironic
        sentences.append(rng.choice(_VERDICT_POS if positive == (rng.random() < 0.9) else _VERDICT_NEG))
    # aclImdb reviews carry HTML line breaks; keep them so the tokenizer has to handle them.
    text = " ".join(sentences[: len(sentences) // 2]) + "<br /><br />" + " ".join(sentences[len(sentences) // 2:])
    rating = rng.randint(7, 10) if positive else rng.randint(1, 4)
    return text, rating


def generate_corpus(root, train_size, test_size, seed):
    """Writes train_size and test_size reviews (half positive) under root in the aclImdb layout.
    The same seed writes the same files."""
    if train_size < 2 or test_size < 2:
        raise ValueError("need at least 2 reviews per split (one of each label)")
    rng = random.Random(seed)
    for split, size in (("train", train_size), ("test", test_size)):
        for label in ("pos", "neg"):
            os.makedirs(os.path.join(root, split, label), exist_ok=True)
        for i in range(size):
            positive = i % 2 == 0
            text, rating = synthetic_review(rng, positive)
            path = os.path.join(root, split, "pos" if positive else "neg", f"{i}_{rating}.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)


def read_split(root, split):
    """[(text, label)] of root/split/{pos,neg}/*.txt, label 1 for pos, in a stable order (sorted names).
    Raises FileNotFoundError naming what is missing."""
    examples = []
    for label_name, label in (("neg", 0), ("pos", 1)):
        directory = os.path.join(root, split, label_name)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"{directory} does not exist (expected the aclImdb layout)")
        for name in sorted(os.listdir(directory)):
            if name.endswith(".txt"):
                with open(os.path.join(directory, name), encoding="utf-8") as f:
                    examples.append((f.read(), label))
    if not examples:
        raise FileNotFoundError(f"no reviews under {os.path.join(root, split)}")
    return examples


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")


def tokenize(text):
    """Lower-case words (with their apostrophes) and ! and ?, HTML line breaks removed."""
    return _TOKEN.findall(text.replace("<br />", " ").lower())


class Vocab:
    """Token <-> index. Index 0 is padding, 1 stands for tokens not in the vocabulary."""

    def __init__(self, tokens):
        self.itos = [PAD, UNK] + [t for t in tokens if t not in (PAD, UNK)]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, texts, min_freq=2, max_size=20000):
        counts = collections.Counter(t for text in texts for t in tokenize(text))
        # Most frequent first; ties by token so the vocabulary does not depend on dict order.
        ranked = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        return cls(ranked[:max_size])

    def __len__(self):
        return len(self.itos)

    def encode(self, text, max_len):
        ids = [self.stoi.get(t, 1) for t in tokenize(text)][:max_len]
        return ids or [1]  # an empty review still yields one (unknown) token


def pad_batch(sequences, min_len):
    """Pads id lists with 0 to the longest (at least min_len, the widest convolution): a list of lists."""
    width = max(min_len, max(len(s) for s in sequences))
    return [s + [0] * (width - len(s)) for s in sequences]
