#!/usr/bin/env python3
"""Builds the transformers reference fixtures for sieve's CPU DeepSeek-V2 model (tests/data/deepseek_*).

Run where torch and transformers 5.x are installed (the GPU machine: torch 2.11, transformers 5.17;
no network, everything runs on the CPU in float64):

    python3 scripts/gpu/make-deepseek-fixtures.py --out DIR \\
        [--sieve-model NAME=FOLDER ...]

Two directions, both checked by tests/decoder/transformers_fixture_test.cc:

1. transformers -> sieve ("deepseek_tiny", "deepseek_tiny_qlora"): a random DeepseekV2ForCausalLM is
   built from a config (1: like sieve's `tiny` preset, q_lora_rank null, greedy routing, V2-Lite's
   yarn; 2: q_lora_rank set, group_limited_greedy, V2's yarn mscale, unequal nope/rope/v dims),
   its weights drawn with a seeded generator (values exactly representable in bf16: norms 1 + 0.1 N,
   embedding N(0,1), linears N(0, min(0.1, 1/sqrt(in))^2), routed experts' down_proj further
   divided by routed_scaling_factor, router N(0, (8/sqrt(H))^2) so top-k routing is decisive);
   the seed is the first from the config's that passes the bf16 conditioning checks (see
   conditioning() below: perturbed runs must keep every greedy token with a 4x margin and every
   position within 5e-3), so the GPU test can hold plain bounds,
   saved with save_pretrained (float32), and the folder is written as DIR/NAME/{config.json,
   model.safetensors, expected.json}. If save_pretrained writes merged expert tensors
   (`mlp.experts.gate_up_proj` [E, 2I, H], `mlp.experts.down_proj` [E, H, I]) they are split into
   the hub's per-expert names (`mlp.experts.{e}.{gate,up,down}_proj.weight`) before the folder is
   kept; the split folder is loaded back with from_pretrained and must reproduce the logits.

2. sieve -> transformers (each --sieve-model NAME=FOLDER, written by `sieve-make-model --dtype
   f32`; FOLDER/sieve_model.json says how: {"preset", "seed", "vocab", "dtype"}): the folder is
   loaded with DeepseekV2ForCausalLM.from_pretrained (loading info must show no missing or
   unexpected keys) and DIR/NAME/expected.json is written. The weights are not copied: the test
   regenerates them and checks the FNV-1a 64 hash of model.safetensors recorded here.

Reference semantics. The model runs in float64 with eager attention. Two transformers questions are
answered on the spot and recorded in expected.json["transformers"]:
  * softmax scale: DeepSeek multiplies qk_head_dim^-0.5 by mscale(factor, mscale_all_dim)^2. If
    `self_attn.scaling` equals the bare qk_head_dim^-0.5, the fix is missing and the script sets
    every layer's scaling to the DeepSeek value (recorded as "scaling_patched").
  * group_limited_greedy routing: if the forward raises (older 5.x read `self.num_experts`, which
    DeepseekV2Moe never set), the attribute is set on each MoE module and the forward retried
    (recorded as "routing_patch"). Either way every routing decision transformers makes is
    compared with DeepSeek's original formula (softmax in fp32; group score = max in group; keep
    topk_group groups; zero the rest; top-k; weights x routed_scaling_factor) and the smallest
    top-k margin is recorded.

Found with transformers 5.17.0 / torch 2.11 (2026-11, the committed fixtures): the scaling fix is
present (no patch applied), save_pretrained writes per-expert names (nothing to split),
from_pretrained reads sieve's folders with empty loading info, and group_limited_greedy runs
(router `DeepseekV2TopkRouter`) and matches the original formula on every decision checked. The
patches above stay as guards for other versions. Routing margins are absolute differences of
post-softmax scores: tiny ones occur between near-zero scores, whose experts weigh nothing.

Seeds (2026-11-22, H100 session): the search (SIEVE_FIXTURE_SEARCH_S=80, from seeds 1 and 19)
found no seed meeting every conditioning() criterion (they are deliberately pessimistic: the
noisy runs perturb every layer), and kept the best-scoring ones, 32 (deepseek_tiny) and 36
(deepseek_tiny_qlora), now the configs' seeds. The GPU test then measured them against
transformers: prefill max rel err 4.1e-3 and 4.8e-3 (bound 2e-2), 32 greedy tokens identical for
all three prompts, and GPU greedy = CPU greedy on the test's four prompts. To rebuild exactly these
fixtures, run with SIEVE_FIXTURE_SEARCH_S=0 (only the configured seed is evaluated):
    SIEVE_FIXTURE_SEARCH_S=0 python3 scripts/gpu/make-deepseek-fixtures.py --out /tmp/fx \
        --only deepseek_tiny,deepseek_tiny_qlora

Command used for the deepseek_sieve_* fixtures (from the repository root on the GPU machine, the
two sieve folders carried):
    python3 scripts/gpu/make-deepseek-fixtures.py --out /tmp/fx \
        --sieve-model deepseek_sieve_tiny=.devcarry/sieve_tiny \
        --sieve-model deepseek_sieve_tiny_qlora=.devcarry/sieve_tiny_qlora_grouped
where .devcarry/NAME was written here by `sieve-make-model --preset tiny|tiny-qlora-grouped
--dtype f32 --vocab 256 --seed 0 --out .devcarry/NAME` plus a sieve_model.json
{"preset", "seed": 0, "vocab": 256, "dtype": "f32"}.

expected.json holds, per prompt (lengths 1, 6, 23; ids from the seed): the prompt, the logits at
every prompt position, 32 greedy tokens (argmax of a full no-cache forward per step, lowest id on
ties), the logits of the last greedy step, and the smallest top-1/top-2 logit gap seen.
DIR/log.txt has the full log; DIR/debug_NAME.json per-layer hidden states of the longest prompt;
DIR/fixtures.tar.gz everything for copying back.
"""

import argparse
import inspect
import json
import math
import os
import sys
import tarfile
import traceback

import torch

LOG_LINES = []
GREEDY_TOKENS = 32
PROMPT_LENGTHS = (1, 6, 23)


def log(*parts):
    line = " ".join(str(p) for p in parts)
    print(line, flush=True)
    LOG_LINES.append(line)


def fnv1a64(path):
    h = 0xcbf29ce484222325
    with open(path, "rb") as f:
        data = f.read()
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def r8(v):
    """Rounds to 8 significant digits (far below the 1e-4 test tolerance; keeps files small)."""
    return float("%.8g" % v)


TINY_YARN_LITE = dict(factor=40.0, original_max_position_embeddings=4096, beta_fast=32.0,
                      beta_slow=1.0, mscale=0.707, mscale_all_dim=0.707)
TINY_YARN_V2 = dict(TINY_YARN_LITE, mscale=1.0, mscale_all_dim=1.0)

CONFIGS = {
    # Like sieve's `tiny` preset (2I != H so merged expert tensors cannot be misread).
    "deepseek_tiny": dict(
        model=dict(vocab_size=256, hidden_size=64, intermediate_size=96, moe_intermediate_size=24,
                   num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4,
                   q_lora_rank=None, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=16,
                   v_head_dim=16, n_routed_experts=8, n_shared_experts=2, num_experts_per_tok=2,
                   topk_method="greedy", n_group=1, topk_group=1, norm_topk_prob=False,
                   routed_scaling_factor=1.0, first_k_dense_replace=1),
        yarn=TINY_YARN_LITE, seed=32),
    # q_lora_rank, group-limited routing, V2's mscale, nope != rope != v.
    "deepseek_tiny_qlora": dict(
        model=dict(vocab_size=320, hidden_size=64, intermediate_size=112,
                   moe_intermediate_size=20, num_hidden_layers=4, num_attention_heads=4,
                   num_key_value_heads=4, q_lora_rank=48, kv_lora_rank=40, qk_nope_head_dim=24,
                   qk_rope_head_dim=8, v_head_dim=20, n_routed_experts=8, n_shared_experts=1,
                   num_experts_per_tok=3, topk_method="group_limited_greedy", n_group=4,
                   topk_group=2, norm_topk_prob=False, routed_scaling_factor=16.0,
                   first_k_dense_replace=1),
        yarn=TINY_YARN_V2, seed=36),
}


def yarn_mscale(factor, m):
    return 1.0 if factor <= 1 else 0.1 * m * math.log(factor) + 1.0


# ---- transformers helpers ---------------------------------------------------------------------


def make_config(spec):
    from transformers import DeepseekV2Config
    y = spec["yarn"]
    kw = dict(spec["model"])
    kw.update(max_position_embeddings=int(y["factor"] * y["original_max_position_embeddings"]),
              tie_word_embeddings=False, bos_token_id=0, eos_token_id=1, attention_bias=False,
              hidden_act="silu", rms_norm_eps=1e-6)
    rope = dict(rope_type="yarn", rope_theta=10000.0, **y)
    try:
        cfg = DeepseekV2Config(rope_parameters=rope, **kw)
    except Exception as e:  # older spelling
        log("DeepseekV2Config(rope_parameters=...) failed:", repr(e), "- retrying with rope_scaling")
        rs = dict(type="yarn", **y)
        cfg = DeepseekV2Config(rope_scaling=rs, rope_theta=10000.0, **kw)
    set_eager(cfg)
    return cfg


def load_pretrained(folder):
    """from_pretrained with eager attention and experts; returns (model, loading info)."""
    from transformers import DeepseekV2ForCausalLM
    kw = dict(output_loading_info=True, attn_implementation="eager")
    try:
        model, info = DeepseekV2ForCausalLM.from_pretrained(folder, experts_implementation="eager",
                                                            **kw)
    except Exception as e:
        log("  from_pretrained(experts_implementation=eager) failed:", repr(e))
        model, info = DeepseekV2ForCausalLM.from_pretrained(folder, **kw)
    model = model.to(torch.float64).eval()
    set_eager(model.config)
    return model, info


def set_eager(cfg):
    for attr in ("_attn_implementation", "_experts_implementation"):
        try:
            setattr(cfg, attr, "eager")
        except Exception as e:
            log("could not set", attr, ":", repr(e))


def moe_modules(model):
    out = []
    for i, layer in enumerate(model.model.layers):
        if hasattr(layer.mlp, "experts"):
            out.append((i, layer.mlp))
    return out


def init_weights(model, cfg, seed, router_std=8.0):
    """Seeded weights, every value exactly representable in bf16 (the GPU's bf16 copy of the
    fixture is then lossless, so the bf16 comparison measures the engine, not weight rounding).
    Routed experts' down_proj is scaled by 1 / routed_scaling_factor so the scaled MoE output
    stays as large as with factor 1 (moderate activations); the router std is router_std / sqrt(H)
    (decisive routing: the chosen experts' scores are far from the next ones')."""
    g = torch.Generator().manual_seed(seed)
    H = cfg.hidden_size
    rsf = float(getattr(cfg, "routed_scaling_factor", 1.0) or 1.0)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            mean = 0.0
            if name.endswith("norm.weight"):
                mean, std = 1.0, 0.1
            elif name == "model.embed_tokens.weight":
                std = 1.0
            elif name.endswith("mlp.gate.weight"):
                std = router_std / math.sqrt(H)
            elif p.dim() >= 2:
                std = min(0.1, 1.0 / math.sqrt(p.shape[-1]))
                if ".mlp.experts." in name and "down_proj" in name:
                    std /= rsf
            else:
                raise SystemExit("unexpected parameter %s %s" % (name, tuple(p.shape)))
            v = torch.randn(tuple(p.shape), generator=g, dtype=torch.float32) * std + mean
            v = v.to(torch.bfloat16).to(torch.float32)
            p.copy_(v.to(p.dtype))


def expected_scale(cfg_model, yarn):
    qk = cfg_model["qk_nope_head_dim"] + cfg_model["qk_rope_head_dim"]
    plain = qk ** -0.5
    m = yarn_mscale(yarn["factor"], yarn["mscale_all_dim"]) if yarn.get("mscale_all_dim") else 1.0
    return plain, plain * m * m


def check_scaling(model, plain, want, info):
    found = [float(layer.self_attn.scaling) for layer in model.model.layers]
    info["scaling_found"] = found[0]
    info["scaling_expected"] = want
    info["scaling_plain"] = plain
    if all(abs(f - want) <= 1e-9 * want for f in found):
        info["scaling_fix_present"] = True
        info["scaling_patched"] = False
    elif all(abs(f - plain) <= 1e-9 * plain for f in found):
        info["scaling_fix_present"] = False
        info["scaling_patched"] = True
        for layer in model.model.layers:
            layer.self_attn.scaling = want
    else:
        info["scaling_fix_present"] = None
        info["scaling_patched"] = False
        log("WARNING: scaling is neither the DeepSeek value nor the bare one:", found)
    log("  self_attn.scaling found %.10g, DeepSeek %.10g, bare %.10g -> fix present: %s" %
        (found[0], want, plain, info["scaling_fix_present"]))
    try:
        re = model.model.rotary_emb
        log("  rotary attention_scaling", getattr(re, "attention_scaling", None), "inv_freq",
            [r8(float(x)) for x in re.inv_freq.flatten()])
    except Exception as e:
        log("  rotary_emb inspect failed:", repr(e))


class RoutingProbe:
    """Captures each MoE call's input and the (index, weight) pairs handed to the experts."""

    def __init__(self, model):
        self.calls = {}  # layer -> list of (x, idx, w)
        self.handles = []
        self.pending = {}
        for i, moe in moe_modules(model):
            self.handles.append(moe.register_forward_pre_hook(self._moe_hook(i)))
            try:
                h = moe.experts.register_forward_pre_hook(self._experts_hook(i), with_kwargs=True)
            except TypeError:  # torch < 2.0 (local dry runs): positional arguments only
                hook = self._experts_hook(i)
                h = moe.experts.register_forward_pre_hook(lambda m, a, hook=hook: hook(m, a, {}))
            self.handles.append(h)

    def _moe_hook(self, i):
        def hook(module, args):
            self.pending[i] = args[0].detach().clone()
        return hook

    def _experts_hook(self, i):
        def hook(module, args, kwargs):
            tensors = list(args) + list(kwargs.values())
            idx = [t for t in tensors if torch.is_tensor(t) and not t.is_floating_point()]
            flt = [t for t in tensors if torch.is_tensor(t) and t.is_floating_point()]
            w = [t for t in flt if idx and tuple(t.shape) == tuple(idx[0].shape)]
            if idx and w:
                self.calls.setdefault(i, []).append(
                    (self.pending.get(i), idx[0].detach().clone(), w[0].detach().clone()))
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


def original_routing(x, gate_w, spec):
    """DeepSeek's MoEGate (original remote code). x [T, H] -> (idx [T,k], w [T,k], margin)."""
    return original_routing_from_logits(
        torch.nn.functional.linear(x.float(), gate_w.float()), spec)


def original_routing_from_logits(logits, spec):
    m = spec["model"]
    logits = logits.reshape(-1, m["n_routed_experts"])
    scores = logits.softmax(dim=-1, dtype=torch.float32)
    T, E = scores.shape
    k = m["num_experts_per_tok"]
    margin = float("inf")
    if m["topk_method"] == "group_limited_greedy":
        G, kg = m["n_group"], m["topk_group"]
        group = scores.view(T, G, -1).max(dim=-1).values
        gs = torch.sort(group, dim=-1, descending=True).values
        if kg < G:
            margin = min(margin, float((gs[:, kg - 1] - gs[:, kg]).min()))
        gidx = torch.topk(group, k=kg, dim=-1, sorted=False)[1]
        gmask = torch.zeros_like(group)
        gmask.scatter_(1, gidx, 1)
        smask = gmask.unsqueeze(-1).expand(T, G, E // G).reshape(T, -1)
        scores = scores.masked_fill(~smask.bool(), 0.0)
    ss = torch.sort(scores, dim=-1, descending=True).values
    if k < E:
        margin = min(margin, float((ss[:, k - 1] - ss[:, k]).min()))
    w, idx = torch.topk(scores, k=k, dim=-1, sorted=False)
    if k > 1 and m["norm_topk_prob"]:
        w = w / (w.sum(dim=-1, keepdim=True) + 1e-20)
    else:
        w = w * m["routed_scaling_factor"]
    return idx, w, margin


def compare_routing(model, probe, spec, info):
    layers = dict(moe_modules(model))
    mismatches, checked, margin = 0, 0, float("inf")
    for i, calls in probe.calls.items():
        gate_w = layers[i].gate.weight
        for x, idx, w in calls:
            if x is None:
                continue
            xf = x.reshape(-1, x.shape[-1])
            ridx, rw, mg = original_routing(xf, gate_w, spec)
            margin = min(margin, mg)
            idx = idx.reshape(ridx.shape)
            w = w.reshape(rw.shape)
            for t in range(ridx.shape[0]):
                checked += 1
                a = sorted(zip(idx[t].tolist(), w[t].double().tolist()))
                b = sorted(zip(ridx[t].tolist(), rw[t].double().tolist()))
                same = [p[0] for p in a] == [p[0] for p in b] and all(
                    abs(p[1] - q[1]) <= 1e-5 * max(1.0, abs(q[1])) for p, q in zip(a, b))
                if not same:
                    mismatches += 1
                    if mismatches <= 5:
                        log("  routing mismatch layer", i, "token", t, "transformers", a,
                            "original", b)
    info["routing_decisions_checked"] = info.get("routing_decisions_checked", 0) + checked
    info["routing_mismatches_vs_original"] = (info.get("routing_mismatches_vs_original", 0) +
                                              mismatches)
    info["min_routing_margin"] = min(info.get("min_routing_margin", float("inf")), margin)
    return mismatches


def patch_routing(model, spec, info, error):
    """Makes transformers' routing runnable: sets attributes the module forgot (num_experts)."""
    info["routing_error"] = error
    patched = []
    for i, moe in moe_modules(model):
        if not hasattr(moe, "num_experts"):
            moe.num_experts = spec["model"]["n_routed_experts"]
            patched.append(i)
    info["routing_patch"] = ("set DeepseekV2Moe.num_experts = n_routed_experts on layers %s" %
                             patched) if patched else "none applicable"
    log("  routing patch:", info["routing_patch"])
    return bool(patched)


def install_original_routing(model, spec):
    """Replaces transformers' routing by the original formula, keeping its return structure
    (the integer tensor is the expert ids, the float tensor of the same shape the weights)."""
    for _, moe in moe_modules(model):
        native = moe.route_tokens_to_experts

        def patched(router_logits, *a, native=native, **k):
            ret = native(router_logits, *a, **k)
            idx, w, _ = original_routing_from_logits(router_logits, spec)
            out = list(ret)
            for j, t in enumerate(out):
                if torch.is_tensor(t) and not t.is_floating_point():
                    out[j] = idx.reshape(t.shape).to(t.dtype)
                elif torch.is_tensor(t) and t.numel() == w.numel():
                    out[j] = w.reshape(t.shape).to(t.dtype)
            return type(ret)(out)

        moe.route_tokens_to_experts = patched


def logits_of(model, ids, hidden=False):
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False,
                    output_hidden_states=hidden)
    lg = out.logits[0].to(torch.float64)
    return (lg, out.hidden_states) if hidden else lg


def run_forward_checked(model, spec, info, ids):
    """First forward; on an exception applies the routing patch once and retries."""
    try:
        return logits_of(model, ids)
    except Exception:
        err = traceback.format_exc()
        log("  forward raised:\n" + err)
        if not patch_routing(model, spec, info, err.strip().splitlines()[-1]):
            raise
        return logits_of(model, ids)


def greedy(model, prompt, n):
    seq = list(prompt)
    toks, gap, last = [], float("inf"), None
    for _ in range(n):
        lg = logits_of(model, seq)[-1]
        top2 = torch.topk(lg, 2).values
        gap = min(gap, float(top2[0] - top2[1]))
        t = int(torch.argmax(lg))
        toks.append(t)
        seq.append(t)
        last = lg
    return toks, gap, last


def greedy_with_cache(model, prompt, n):
    with torch.no_grad():
        out = model(input_ids=torch.tensor([prompt]), use_cache=True)
        toks = []
        for _ in range(n):
            t = int(torch.argmax(out.logits[0, -1]))
            toks.append(t)
            out = model(input_ids=torch.tensor([[t]]), past_key_values=out.past_key_values,
                        use_cache=True)
    return toks


def make_prompts(vocab, seed):
    g = torch.Generator().manual_seed(1000 + seed)
    return [torch.randint(0, vocab, (n,), generator=g).tolist() for n in PROMPT_LENGTHS]


def compute_expected(model, spec, info, vocab, seed, debug_path):
    probe = RoutingProbe(model)
    prompts = make_prompts(vocab, seed)
    entries, min_gap = [], float("inf")
    try:
        run_forward_checked(model, spec, info, prompts[-1])
        for p in prompts:
            lg = logits_of(model, p)
            toks, gap, last = greedy(model, p, GREEDY_TOKENS)
            min_gap = min(min_gap, gap, float(torch.topk(lg[-1], 2).values.diff().abs()))
            try:
                cached = greedy_with_cache(model, p, GREEDY_TOKENS)
                if cached != toks:
                    log("  NOTE: transformers' KV-cache greedy differs from no-cache greedy:",
                        cached, toks)
            except Exception as e:
                log("  KV-cache greedy failed:", repr(e))
            entries.append(dict(tokens=p, logits=[[r8(v) for v in row.tolist()] for row in lg],
                                greedy=toks, final_logits=[r8(v) for v in last.tolist()]))
    finally:
        probe.remove()
    info["min_greedy_gap"] = min_gap
    if compare_routing(model, probe, spec, info) and not info.get("original_routing_installed"):
        log("  transformers' routing differs from DeepSeek's formula: installing the original "
            "formula and recomputing")
        info["original_routing_installed"] = True
        install_original_routing(model, spec)
        for key in ("routing_decisions_checked", "routing_mismatches_vs_original"):
            info.pop(key, None)
        return compute_expected(model, spec, info, vocab, seed, debug_path)
    try:
        _, hs = logits_of(model, prompts[-1], hidden=True)
        with open(debug_path, "w") as f:
            json.dump({"prompt": prompts[-1],
                       "hidden_states": [[[r8(v) for v in row] for row in h[0].tolist()]
                                         for h in hs]}, f)
    except Exception as e:
        log("  hidden-state dump failed:", repr(e))
    return entries


def versions():
    import transformers
    return dict(transformers=transformers.__version__, torch=torch.__version__)


def write_expected(path, meta, entries):
    doc = dict(meta)
    doc["prompts"] = entries
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    log("  wrote", path, os.path.getsize(path), "bytes")


def log_source():
    try:
        from transformers.models.deepseek_v2 import modeling_deepseek_v2 as m
        log("---- transformers DeepseekV2Moe.route_tokens_to_experts ----")
        log(inspect.getsource(m.DeepseekV2Moe.route_tokens_to_experts))
        log("---- DeepseekV2Moe.__init__ ----")
        log(inspect.getsource(m.DeepseekV2Moe.__init__))
        src = inspect.getsource(m.DeepseekV2Attention.__init__)
        log("---- DeepseekV2Attention.__init__ (scaling lines) ----")
        log("\n".join(l for l in src.splitlines() if "scal" in l or "mscale" in l))
    except Exception as e:
        log("source inspection failed:", repr(e))
    try:
        from transformers import conversion_mapping as cm
        for fn in ("get_checkpoint_conversion_mapping", "_checkpoint_conversion_mapping_cache"):
            if hasattr(cm, fn):
                obj = getattr(cm, fn)
                log("conversion mapping deepseek_v2:",
                    repr(obj("deepseek_v2") if callable(obj) else obj.get("deepseek_v2"))[:1500])
                break
    except Exception as e:
        log("conversion mapping inspection failed:", repr(e))


# ---- conditioning: choose a seed whose logits and greedy tokens survive bf16 -------------------

# The GPU test (tests/decoder/gpu_model_test.cc) holds every fixture to: prefill logits within 2e-2
# (relative, per position) of the fp32/fp64 references, and 32 greedy tokens identical. A random
# model meets that only if no greedy step is a near tie and no routing decision flips under bf16
# rounding. So seeds are tried until one passes these checks against perturbed runs of the same
# model: (1) every Linear's and every expert module's input rounded to bf16 (the GPU's rounding
# points; the weights are already bf16-exact), (2) and (3) the same plus relative noise of 2^-10 on
# every decoder layer's output (summation order, the roundings not emulated). Criteria: relative
# error <= 5e-3 at every position for (1) and <= 1e-2 for (2), (3); the same argmax at every
# greedy step in all three; each greedy step's top-1/top-2 gap >= 4x the largest logit deviation
# of (1) there. Checked on the fixture's own prompts and on the prompts the GPU test uses
# (PromptTokens in gpu_test_util.h).
# Calibration (H100, 2026-11-22): with noise 2^-8 on (2), (3) the predicted worst errors were 4-12%
# while the GPU measured 0.6% and 2.2% on two of those seeds, so the noise was lowered to 2^-10
# and the rounding-only run carries the tight bound.
COND_REL_ERR = 5e-3
COND_REL_ERR_NOISY = 1e-2
COND_GAP_FACTOR = 4.0
COND_NOISE = 2.0 ** -10
COND_BUDGET_S = float(os.environ.get("SIEVE_FIXTURE_SEARCH_S", "90"))


def prompt_tokens(n, vocab, salt):
    """tests/decoder/gpu_test_util.h PromptTokens."""
    return [(i * 37 + salt * 101 + 5) % vocab for i in range(n)]


def test_sequences(vocab):
    """(greedy prompts, teacher-forced sequences) the GPU test feeds a fixture model."""
    lengths = (1, 63, 64, 65)
    greedy_prompts = [prompt_tokens(n, vocab, 60 + b) for b, n in enumerate(lengths)]
    forced = [prompt_tokens(n, vocab, n) for n in lengths]  # prefill at every position
    chunk = prompt_tokens(65, vocab, 3)
    forced.append(chunk + [chunk[5]])  # chunked prefill, then one decode step
    for b, n in enumerate(lengths):  # 16 teacher-forced decode steps after each prompt
        forced.append(prompt_tokens(n, vocab, 20 + b) + prompt_tokens(16, vocab, 40 + b))
    return greedy_prompts, forced


def _round_bf16(t):
    return t.to(torch.bfloat16).to(t.dtype) if torch.is_tensor(t) and t.is_floating_point() else t


def add_perturbation(model, noise_seed):
    """Hooks: bf16 rounding of Linear / expert inputs; with noise_seed, relative noise on every
    decoder layer's output. Returns the handles."""
    handles = []

    def pre(module, args, kwargs):
        args = tuple(_round_bf16(a) if i == 0 else a for i, a in enumerate(args))
        if "hidden_states" in kwargs:
            kwargs = dict(kwargs)
            kwargs["hidden_states"] = _round_bf16(kwargs["hidden_states"])
        return args, kwargs

    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
    for _, moe in moe_modules(model):
        handles.append(moe.experts.register_forward_pre_hook(pre, with_kwargs=True))
    if noise_seed is not None:
        g = torch.Generator().manual_seed(noise_seed)

        def post(module, args, out):
            def noisy(t):
                n = torch.randn(tuple(t.shape), generator=g, dtype=torch.float64).to(t.dtype)
                return t * (1 + COND_NOISE * n)
            if torch.is_tensor(out):
                return noisy(out)
            out = list(out)
            out[0] = noisy(out[0])
            return tuple(out)

        for layer in model.model.layers:
            handles.append(layer.register_forward_hook(post))
    return handles


def conditioning(model, spec, prompts):
    """Runs the checks above; returns a dict with 'passed' and the worst numbers."""
    vocab = spec["model"]["vocab_size"]
    greedy_prompts, forced = test_sequences(vocab)
    greedy_prompts = list(prompts) + greedy_prompts
    cases = []  # (tokens, first greedy row or None)
    for p in greedy_prompts:
        toks = greedy_with_cache(model, p, GREEDY_TOKENS)
        cases.append((p + toks[:-1], len(p) - 1, toks))
    for f in forced:
        cases.append((f, None, None))
    refs = [logits_of(model, c[0]) for c in cases]
    res = dict(passed=True, worst_rel_err=0.0, worst_rel_err_noisy=0.0,
               min_gap_ratio=float("inf"), argmax_flips=0, greedy_self_mismatch=0)
    for (seq, first, toks), ref in zip(cases, refs):
        if first is not None and [int(x) for x in ref[first:].argmax(-1)] != toks:
            res["greedy_self_mismatch"] += 1  # cached and uncached greedy disagree: a tie
    for variant in (None, 1, 2):
        handles = add_perturbation(model, variant)
        key = "worst_rel_err" if variant is None else "worst_rel_err_noisy"
        try:
            for (seq, first, toks), ref in zip(cases, refs):
                lv = logits_of(model, seq)
                rel = ((lv - ref).norm(dim=-1) / ref.norm(dim=-1)).max().item()
                res[key] = max(res[key], rel)
                if first is None:
                    continue
                for i, t in enumerate(toks):
                    r, v = ref[first + i], lv[first + i]
                    if variant is None:
                        top2 = torch.topk(r, 2).values
                        gap = float(top2[0] - top2[1])
                        dev = float((v - r).abs().max())
                        res["min_gap_ratio"] = min(res["min_gap_ratio"], gap / max(dev, 1e-30))
                    if int(v.argmax()) != t:
                        res["argmax_flips"] += 1
        finally:
            for h in handles:
                h.remove()
    res["passed"] = (res["worst_rel_err"] <= COND_REL_ERR and
                     res["worst_rel_err_noisy"] <= COND_REL_ERR_NOISY and
                     res["argmax_flips"] == 0 and res["min_gap_ratio"] >= COND_GAP_FACTOR and
                     res["greedy_self_mismatch"] == 0)
    return res


def choose_seed(name, spec, budget_s):
    """Tries seeds spec['seed'], +1, ... until one passes conditioning() or the time budget runs
    out (then the best one, loudly). Returns (seed, result, tried)."""
    import time
    from transformers import DeepseekV2ForCausalLM
    t0 = time.time()
    best, tried = None, []
    seed = spec["seed"]
    while True:
        cfg = make_config(spec)
        model = DeepseekV2ForCausalLM(cfg).to(torch.float32).eval()
        init_weights(model, cfg, seed)
        model = model.to(torch.float64)
        prompts = make_prompts(spec["model"]["vocab_size"], seed)
        try:
            r = conditioning(model, spec, prompts)
        except Exception:
            r = dict(passed=False, error=traceback.format_exc().strip().splitlines()[-1])
        tried.append(dict(seed=seed, **{k: (r8(v) if isinstance(v, float) and math.isfinite(v)
                                            else v) for k, v in r.items()}))
        log("  %s seed %d: %s" % (name, seed, tried[-1]))
        score = (r.get("passed", False), -r.get("argmax_flips", 99),
                 -max(r.get("worst_rel_err", 1.0) / COND_REL_ERR,
                      r.get("worst_rel_err_noisy", 1.0) / COND_REL_ERR_NOISY),
                 min(r.get("min_gap_ratio", 0.0), 100.0))
        if best is None or score > best[0]:
            best = (score, seed, r)
        if r.get("passed") or time.time() - t0 > budget_s:
            break
        seed += 1
    if not best[2].get("passed"):
        log("WARNING: %s: no seed met the conditioning criteria in %.0f s; keeping seed %d: %s" %
            (name, budget_s, best[1], best[2]))
    return best[1], best[2], tried


# ---- direction 1: transformers -> sieve --------------------------------------------------------


def split_merged_experts(folder, cfg_model):
    """Rewrites merged expert tensors as hub-style per-expert tensors. Returns what it found."""
    from safetensors import safe_open
    from safetensors.torch import save_file
    path = os.path.join(folder, "model.safetensors")
    with safe_open(path, "pt") as f:
        names = list(f.keys())
        tensors = {n: f.get_tensor(n) for n in names}
        meta = f.metadata() or {}
    merged = [n for n in names if n.endswith("experts.gate_up_proj") or
              n.endswith("experts.down_proj")]
    per_expert = [n for n in names if ".experts.0." in n]
    fmt = "merged" if merged else ("per_expert" if per_expert else "none")
    log("  on-disk expert tensors:", fmt, "e.g.", (merged or per_expert or ["-"])[:3])
    if not merged:
        return fmt, names
    E, I, H = cfg_model["n_routed_experts"], cfg_model["moe_intermediate_size"], \
        cfg_model["hidden_size"]
    out = {}
    for n, t in tensors.items():
        if n.endswith("experts.gate_up_proj"):
            base = n[: -len("gate_up_proj")]
            if tuple(t.shape) == (E, H, 2 * I):  # stored transposed
                t = t.transpose(1, 2)
            assert tuple(t.shape) == (E, 2 * I, H), (n, t.shape)
            for e in range(E):
                out["%s%d.gate_proj.weight" % (base, e)] = t[e, :I].contiguous()
                out["%s%d.up_proj.weight" % (base, e)] = t[e, I:].contiguous()
        elif n.endswith("experts.down_proj"):
            base = n[: -len("down_proj")]
            if tuple(t.shape) == (E, I, H):
                t = t.transpose(1, 2)
            assert tuple(t.shape) == (E, H, I), (n, t.shape)
            for e in range(E):
                out["%s%d.down_proj.weight" % (base, e)] = t[e].contiguous()
        else:
            out[n] = t
    meta = dict(meta)
    meta["format"] = "pt"
    save_file(out, path, metadata=meta)
    log("  split merged experts into", len(out), "hub-style tensors")
    return fmt, names


def build_transformers_fixture(name, spec, out_dir):
    from transformers import DeepseekV2ForCausalLM
    log("==== %s (transformers -> sieve) ====" % name)
    info = {}
    seed, cond, tried = choose_seed(name, spec, COND_BUDGET_S)
    spec = dict(spec, seed=seed)
    info["conditioning"] = dict(criteria=dict(rel_err=COND_REL_ERR,
                                              rel_err_noisy=COND_REL_ERR_NOISY,
                                              gap_factor=COND_GAP_FACTOR, noise=COND_NOISE),
                                chosen_seed=seed,
                                passed=bool(cond.get("passed")), seeds_tried=len(tried),
                                result={k: (v if not isinstance(v, float) or math.isfinite(v)
                                            else str(v)) for k, v in cond.items()})
    cfg = make_config(spec)
    model = DeepseekV2ForCausalLM(cfg).to(torch.float32).eval()
    log("  attn impl:", getattr(model.config, "_attn_implementation", None), "experts impl:",
        getattr(model.config, "_experts_implementation", None))
    log("  params:", [(n, tuple(p.shape)) for n, p in model.named_parameters()
                      if ".layers.1." in n])
    init_weights(model, cfg, spec["seed"])
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    try:
        model.save_pretrained(folder, safe_serialization=True)
    except TypeError:  # the argument is gone where safetensors is the only format
        model.save_pretrained(folder)
    log("  save_pretrained wrote:", sorted(os.listdir(folder)))
    fmt, disk_names = split_merged_experts(folder, spec["model"])
    info["on_disk_expert_format"] = fmt
    info["on_disk_example_names"] = [n for n in disk_names if ".layers.1.mlp" in n][:6]
    for extra in ("generation_config.json",):
        p = os.path.join(folder, extra)
        if os.path.exists(p):
            os.remove(p)
    model = model.to(torch.float64)
    plain, want = expected_scale(spec["model"], spec["yarn"])
    check_scaling(model, plain, want, info)
    entries = compute_expected(model, spec, info, spec["model"]["vocab_size"], spec["seed"],
                               os.path.join(out_dir, "debug_%s.json" % name))
    # The folder we keep (split if needed) must load back and reproduce the logits.
    reloaded, linfo = load_pretrained(folder)
    info["reload_loading_info"] = {k: list(v) for k, v in linfo.items() if v}
    check_scaling(reloaded, plain, want, {})
    for i, moe in moe_modules(reloaded):
        if "routing_patch" in info and not hasattr(moe, "num_experts"):
            moe.num_experts = spec["model"]["n_routed_experts"]
    if info.get("original_routing_installed"):
        install_original_routing(reloaded, spec)
    a = logits_of(model, entries[-1]["tokens"])
    b = logits_of(reloaded, entries[-1]["tokens"])
    info["reload_rel_diff"] = float((a - b).norm() / a.norm())
    log("  reloaded folder: loading info", info["reload_loading_info"], "rel diff",
        info["reload_rel_diff"])
    meta = dict(generator="scripts/gpu/make-deepseek-fixtures.py",
                direction="transformers_to_sieve", versions=versions(), reference_dtype="float64",
                seed=spec["seed"], transformers=info)
    write_expected(os.path.join(folder, "expected.json"), meta, entries)
    log("  info:", json.dumps(info, default=str))


# ---- direction 2: sieve -> transformers --------------------------------------------------------


def config_spec_from_json(folder):
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    rs = c.get("rope_scaling") or c.get("rope_parameters") or {}
    model = {k: c[k] for k in ("vocab_size", "hidden_size", "qk_nope_head_dim",
                               "qk_rope_head_dim", "n_routed_experts", "num_experts_per_tok",
                               "topk_method", "n_group", "topk_group", "norm_topk_prob",
                               "routed_scaling_factor", "moe_intermediate_size")}
    yarn = dict(factor=rs.get("factor", 1.0), mscale_all_dim=rs.get("mscale_all_dim", 0.0))
    return dict(model=model, yarn=yarn)


def check_sieve_fixture(name, folder, out_dir):
    from transformers import DeepseekV2ForCausalLM
    log("==== %s (sieve -> transformers) from %s ====" % (name, folder))
    with open(os.path.join(folder, "sieve_model.json")) as f:
        made = json.load(f)
    made["safetensors_fnv1a64"] = fnv1a64(os.path.join(folder, "model.safetensors"))
    spec = config_spec_from_json(folder)
    info = {}
    model, linfo = load_pretrained(folder)
    info["loading_info"] = {k: list(v) for k, v in linfo.items() if v}
    log("  loading info:", info["loading_info"])
    log("  attn impl:", getattr(model.config, "_attn_implementation", None))
    # Did the per-expert checkpoint land in the merged parameters as gate rows then up rows?
    try:
        from safetensors import safe_open
        i = next(i for i, _ in moe_modules(model))
        with safe_open(os.path.join(folder, "model.safetensors"), "pt") as f:
            g1 = f.get_tensor("model.layers.%d.mlp.experts.1.gate_proj.weight" % i).double()
            u1 = f.get_tensor("model.layers.%d.mlp.experts.1.up_proj.weight" % i).double()
            d1 = f.get_tensor("model.layers.%d.mlp.experts.1.down_proj.weight" % i).double()
        ex = model.model.layers[i].mlp.experts
        if hasattr(ex, "gate_up_proj"):
            gu = ex.gate_up_proj[1].double()
            I = g1.shape[0]
            ok = (torch.equal(gu[:I], g1) and torch.equal(gu[I:], u1) and
                  torch.equal(ex.down_proj[1].double(), d1))
        else:
            ok = torch.equal(ex[1].gate_proj.weight.double(), g1)
        info["expert_weights_loaded_exactly"] = bool(ok)
        log("  expert 1 of layer", i, "loaded exactly:", ok)
    except Exception as e:
        log("  expert load check failed:", repr(e))
    plain, want = expected_scale(spec["model"], spec["yarn"])
    check_scaling(model, plain, want, info)
    entries = compute_expected(model, spec, info, spec["model"]["vocab_size"], made["seed"],
                               os.path.join(out_dir, "debug_%s.json" % name))
    meta = dict(generator="scripts/gpu/make-deepseek-fixtures.py",
                direction="sieve_to_transformers", versions=versions(),
                reference_dtype="float64", model=made, transformers=info)
    dst = os.path.join(out_dir, name)
    os.makedirs(dst, exist_ok=True)
    write_expected(os.path.join(dst, "expected.json"), meta, entries)
    log("  info:", json.dumps(info, default=str))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--sieve-model", action="append", default=[], help="NAME=FOLDER")
    ap.add_argument("--only", default="", help="comma-separated fixture names")
    args = ap.parse_args()
    torch.manual_seed(0)
    os.makedirs(args.out, exist_ok=True)
    log("versions:", versions())
    log_source()
    only = set(filter(None, args.only.split(",")))
    failures = []
    jobs = [(n, lambda n=n: build_transformers_fixture(n, CONFIGS[n], args.out)) for n in CONFIGS]
    for item in args.sieve_model:
        n, folder = item.split("=", 1)
        jobs.append((n, lambda n=n, folder=folder: check_sieve_fixture(n, folder, args.out)))
    for n, job in jobs:
        if only and n not in only:
            continue
        try:
            job()
        except Exception:
            failures.append(n)
            log("FAILED %s:\n%s" % (n, traceback.format_exc()))
    with tarfile.open(os.path.join(args.out, "fixtures.tar.gz"), "w:gz") as tar:
        for n, _ in jobs:
            p = os.path.join(args.out, n)
            if os.path.isdir(p):
                tar.add(p, arcname=n)
    log("failures:", failures or "none")
    with open(os.path.join(args.out, "log.txt"), "w") as f:
        f.write("\n".join(LOG_LINES) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
