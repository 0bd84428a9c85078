"""PyTorch side of the data: a Dataset of encoded reviews and the collate function that pads a batch.
Tokenizing and the vocabulary are in data.py."""
import torch
from torch.utils.data import Dataset

from data import pad_batch


class ReviewDataset(Dataset):
    """(token ids, label) pairs, encoded once up front so DataLoader workers only index and pad."""

    def __init__(self, examples, vocab, max_len):
        self.ids = [vocab.encode(text, max_len) for text, _ in examples]
        self.labels = [label for _, label in examples]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.ids[i], self.labels[i]


class PadCollate:
    """collate_fn padding each batch to its longest review (at least min_len tokens). A class, not a
    closure, so it pickles for DataLoader workers started with spawn as well as fork."""

    def __init__(self, min_len):
        self.min_len = min_len

    def __call__(self, batch):
        ids, labels = zip(*batch)
        return (torch.tensor(pad_batch(list(ids), self.min_len), dtype=torch.long),
                torch.tensor(labels, dtype=torch.long))
