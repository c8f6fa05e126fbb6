"""CLIP-style text transformer (CLIPTextModel family): causal mask, quick_gelu, final LayerNorm."""
import torch
import torch.nn as nn
from layers import Attention

MAX_POSITIONS = 77


class ClipLayer(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.layer_norm1, self.self_attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.layer_norm2, self.fc1, self.fc2 = nn.LayerNorm(dim), nn.Linear(dim, mlp), nn.Linear(mlp, dim)
        self.self_attn.to_q.bias = nn.Parameter(torch.zeros(dim))  # CLIP projections carry biases
        self.self_attn.to_k.bias = nn.Parameter(torch.zeros(dim))
        self.self_attn.to_v.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x, mask):
        x = x + self._attend(self.layer_norm1(x), mask)
        h = self.fc1(self.layer_norm2(x))
        return x + self.fc2(h * torch.sigmoid(1.702 * h))  # quick_gelu

    def _attend(self, x, mask):
        a = self.self_attn
        b, n, d = x.shape
        h = a.heads

        def split(t):
            return t.reshape(b, n, h, d // h).transpose(1, 2).reshape(b * h, n, d // h)

        q = split(a.to_q(x)) * ((d // h) ** -0.5)
        w = torch.bmm(q, split(a.to_k(x)).transpose(1, 2)) + mask
        o = torch.bmm(torch.softmax(w, dim=-1), split(a.to_v(x)))
        return a.to_out(o.reshape(b, h, n, d // h).transpose(1, 2).reshape(b, n, d))


class ClipTextModel(nn.Module):
    def __init__(self, vocab_size, dim=64, layers=2, heads=4, mlp=256, eos_token_id=None):
        super().__init__()
        self.eos_token_id = vocab_size - 1 if eos_token_id is None else eos_token_id
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_embedding = nn.Embedding(MAX_POSITIONS, dim)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding.weight, std=0.01)
        self.layers = nn.ModuleList([ClipLayer(dim, heads, mlp) for _ in range(layers)])
        self.final_layer_norm = nn.LayerNorm(dim)

    def forward(self, input_ids):
        n = input_ids.shape[1]
        pos = torch.arange(n, device=input_ids.device)
        x = self.token_embedding(input_ids) + self.position_embedding(pos)[None]
        mask = torch.full((n, n), -1e9).triu(1)[None]  # causal (large negative, not -inf)
        for layer in self.layers:
            x = layer(x, mask)
        last = self.final_layer_norm(x)
        # pooler: the state at the first <|endoftext|> (found by id, so tokens added later for
        # textual inversion, whose ids are higher, do not move it)
        first_eos = (input_ids == self.eos_token_id).int().argmax(dim=-1)
        pooled = last[torch.arange(last.shape[0]), first_eos]
        return last, pooled
