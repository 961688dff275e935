"""Optional torch helpers: masks from sieve (bytes of little-endian uint32 words) as tensors.

Importing this module without torch installed raises ImportError with a clear message; the rest of
the sieve package never needs torch.
"""
try:
    import torch
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("sieve.torch_utils needs torch (pip install torch); the sieve package itself "
                      "works without it") from e


def bitmask_to_bool(mask, vocab_size, device=None):
    """A bool tensor of vocab_size entries, True = allowed."""
    words = torch.frombuffer(bytearray(mask), dtype=torch.int32)
    bits = torch.arange(32, dtype=torch.int32)
    allowed = ((words.unsqueeze(-1) >> bits) & 1).bool().flatten()[:vocab_size]
    return allowed.to(device) if device is not None else allowed


def apply_bitmask_(logits, mask):
    """Sets logits[..., i] = -inf where the mask forbids token i (in place); returns logits.
    Ids past the mask (a model vocab wider than the tokenizer's) are forbidden too."""
    vocab = logits.shape[-1]
    allowed = bitmask_to_bool(mask, min(vocab, len(mask) * 8), device=logits.device)
    if allowed.numel() < vocab:
        pad = torch.zeros(vocab - allowed.numel(), dtype=torch.bool, device=logits.device)
        allowed = torch.cat([allowed, pad])
    return logits.masked_fill_(~allowed, float("-inf"))
