"""The text CNN of the MLPerf sentiment-analysis reference (after Johnson & Zhang, arXiv:1412.1058):
word embeddings, two 1-D convolutions over the sequence with windows 3 and 4, tanh, max over time,
concatenated, and a linear layer to the two classes."""
import torch
from torch import nn


class TextCNN(nn.Module):
    def __init__(self, vocab_size, embed_dim=128, hidden=128, windows=(3, 4), dropout=0.2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, hidden, w) for w in windows)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden * len(windows), 2)
        self.min_len = max(windows)

    def forward(self, ids):  # ids: [batch, length], length >= min_len
        x = self.embedding(ids).transpose(1, 2)  # [batch, embed, length]
        # amax (not max pooling) keeps the backward pass deterministic on CUDA.
        pooled = [torch.tanh(conv(x)).amax(dim=2) for conv in self.convs]
        return self.out(self.dropout(torch.cat(pooled, dim=1)))
