// The GPU forward pass at DeepSeek-V2-Lite's real widths (hidden 2048, 16 heads, kv_lora 512,
// rope 64, nope/v 128, dense intermediate 10944, experts of 1408 with 2 shared, top-6), cut to
// two layers (one dense, one MoE), 16 routed experts and a 2048-token vocabulary so the fp32 CPU
// references stay affordable: prefill logits at all 65 positions (crossing a cache page) and 8
// batched decode steps against the emulated and fp32 references, with the tolerances of
// gpu_test_util.h. Covers what the tiny models cannot: 576-wide cache rows, full 512-float latent
// per lane in the MLA kernel, cuBLAS at production shapes. Label gpu; skipped without a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "decoder/cpu_model.h"
#include "decoder/gpu_model.h"
#include "decoder/random_model.h"
#include "tests/decoder/gpu_test_util.h"
#include "tests/testing/scoped_temp_dir.h"

namespace sieve {
namespace {

using testing::ComparePositions;
using testing::Comparison;
using testing::PrintComparison;
using testing::PromptTokens;

// A random model of `config` written as fp32 and bf16, loaded as the fp32 and bf16-emulating
// CPU references and on the GPU.
struct Models {
  std::shared_ptr<const CpuModel> fp32, emulated;
  std::shared_ptr<const GpuModel> gpu;
};

void MakeModels(const ModelConfig& config, uint64_t seed, const testing::ScopedTempDir& dir,
                Models* m) {
  const std::string f32 = dir.File("f32"), bf16 = dir.File("bf16");
  for (auto [out, dtype] : {std::pair{f32, DType::kF32}, std::pair{bf16, DType::kBF16}}) {
    RandomModelOptions o;
    o.out_dir = out;
    o.seed = seed;
    o.dtype = dtype;
    auto r = WriteRandomModel(config, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  auto fp32 = CpuModel::Load(f32);
  CpuModelOptions emulate;
  emulate.emulate_bf16_activations = true;
  auto emulated = CpuModel::Load(bf16, emulate);
  auto gpu = GpuModel::Load(bf16);
  ASSERT_TRUE(fp32.ok() && emulated.ok()) << fp32.status().ToString();
  ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();
  m->fp32 = *fp32;
  m->emulated = *emulated;
  m->gpu = *gpu;
}

TEST(GpuModelAtV2LiteWidths, PrefillAndBatchedDecodeMatchTheCpuReferences) {
  if (!testing::HaveDevice()) GTEST_SKIP() << "no CUDA device";
  auto config = PresetConfig("v2-lite", 2048);
  ASSERT_TRUE(config.ok());
  config->num_hidden_layers = 2;
  config->n_routed_experts = 16;
  testing::ScopedTempDir dir;
  Models m;
  ASSERT_NO_FATAL_FAILURE(MakeModels(*config, 5, dir, &m));
  const auto* fp32 = &m.fp32;  // *fp32: the shared model, as Load returned it
  const auto* emulated = &m.emulated;
  const auto* gpu = &m.gpu;
  const int64_t vocab = config->vocab_size;
  GpuSessionOptions so;
  so.max_batch = 2;
  so.max_step_tokens = 128;
  so.max_seq_len = 128;
  auto session = GpuSession::Create(*gpu, so);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  GpuSession& s = **session;

  // Two sequences: 65 tokens (all positions) and 3 tokens; then 4 decode steps together.
  const std::vector<int32_t> long_prompt = PromptTokens(65, vocab, 1);
  const std::vector<int32_t> short_prompt = PromptTokens(3, vocab, 2);
  auto a = s.AddSequence();
  auto b = s.AddSequence();
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(s.Prefill(*a, long_prompt, /*all_positions=*/true).ok());
  auto prefill = s.LogitsToHost();
  ASSERT_TRUE(prefill.ok());
  ASSERT_TRUE(s.Prefill(*b, short_prompt).ok());
  CpuSession ea(*emulated), fa(*fp32), eb(*emulated), fb(*fp32);
  auto le = ea.Prefill(long_prompt, true, AttentionForm::kAbsorbed);
  auto lf = fa.Prefill(long_prompt, true);
  ASSERT_TRUE(le.ok() && lf.ok());
  Comparison c;
  ComparePositions("v2-lite widths prefill 65", prefill->data(), le->data(), lf->data(),
                   ea.last_token_routing_margins(), 65, vocab, &c);
  PrintComparison("v2-lite widths prefill 65", c);
  ASSERT_TRUE(eb.Prefill(short_prompt, false, AttentionForm::kAbsorbed).ok());
  ASSERT_TRUE(fb.Prefill(short_prompt).ok());

  const int steps = 4;
  std::vector<float> gpu_a, gpu_b, ref_ea, ref_fa, ref_eb, ref_fb;
  std::vector<float> margins_a, margins_b;
  for (int i = 0; i < steps; ++i) {
    const int32_t ta = long_prompt[i], tb = short_prompt[i % 3];
    ASSERT_TRUE(s.DecodeStep({*a, *b}, {ta, tb}).ok());
    auto logits = s.LogitsToHost();
    ASSERT_TRUE(logits.ok());
    gpu_a.insert(gpu_a.end(), logits->begin(), logits->begin() + vocab);
    gpu_b.insert(gpu_b.end(), logits->begin() + vocab, logits->end());
    for (auto [e, f, te, re, rf, m] : {std::tuple{&ea, &fa, ta, &ref_ea, &ref_fa, &margins_a},
                                       std::tuple{&eb, &fb, tb, &ref_eb, &ref_fb, &margins_b}}) {
      auto x = e->DecodeStep(te);
      auto y = f->DecodeStep(te);
      ASSERT_TRUE(x.ok() && y.ok());
      re->insert(re->end(), x->begin(), x->end());
      rf->insert(rf->end(), y->begin(), y->end());
      m->push_back(e->last_token_routing_margins()[0]);
    }
  }
  Comparison da, db;
  ComparePositions("v2-lite widths decode after 65", gpu_a.data(), ref_ea.data(), ref_fa.data(),
                   margins_a, steps, vocab, &da);
  ComparePositions("v2-lite widths decode after 3", gpu_b.data(), ref_eb.data(), ref_fb.data(),
                   margins_b, steps, vocab, &db);
  PrintComparison("v2-lite widths decode after 65", da);
  PrintComparison("v2-lite widths decode after 3", db);
}

// Prompt chunks of >= kMhaMinTokens tokens take the MHA-form attention (mha_prefill.h): DeepSeek's
// head dims (nope 128, rope 64, v 128, kv_lora 512) on a narrow model (hidden 256, 4 heads, 8
// experts) so the CPU references stay cheap. A 150-token prompt in one chunk (all positions,
// from position 0) and a 300-token prompt in chunks of 160 and 140 (the second chunk's keys
// include the first's cached rows), then decode steps over caches those chunks filled.
TEST(GpuModelMhaPrefill, ChunksOfAtLeast128TokensMatchTheCpuReferences) {
  if (!testing::HaveDevice()) GTEST_SKIP() << "no CUDA device";
  auto config = PresetConfig("v2-lite", 512);
  ASSERT_TRUE(config.ok());
  config->num_hidden_layers = 2;
  config->hidden_size = 256;
  config->num_attention_heads = 4;
  config->intermediate_size = 512;
  config->moe_intermediate_size = 128;
  config->n_routed_experts = 8;
  config->num_experts_per_tok = 2;
  testing::ScopedTempDir dir;
  Models m;
  // Seed 11 put a routing near-tie (margin 2.6e-3) at position 5 of the first prompt that flips
  // in the emulation (both GPU forms agreed there, 5e-3 apart); seed 5 has none.
  ASSERT_NO_FATAL_FAILURE(MakeModels(*config, 5, dir, &m));
  const auto* fp32 = &m.fp32;  // *fp32: the shared model, as Load returned it
  const auto* emulated = &m.emulated;
  const auto* gpu = &m.gpu;
  const int64_t vocab = config->vocab_size;
  GpuSessionOptions so;
  so.max_batch = 2;
  so.max_step_tokens = 160;
  so.max_seq_len = 512;
  auto session = GpuSession::Create(*gpu, so);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  GpuSession& s = **session;
  const std::vector<int32_t> pa = PromptTokens(150, vocab, 3), pb = PromptTokens(300, vocab, 4);
  auto a = s.AddSequence();
  auto b = s.AddSequence();
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(s.Prefill(*a, pa, /*all_positions=*/true).ok());
  auto la = s.LogitsToHost();
  ASSERT_TRUE(s.Prefill(*b, pb).ok());
  auto lb = s.LogitsToHost();
  ASSERT_TRUE(la.ok() && lb.ok());
  CpuSession ea(*emulated), fa(*fp32), eb(*emulated), fb(*fp32);
  auto rea = ea.Prefill(pa, true), rfa = fa.Prefill(pa, true);
  auto reb = eb.Prefill(pb, false), rfb = fb.Prefill(pb, false);
  ASSERT_TRUE(rea.ok() && rfa.ok() && reb.ok() && rfb.ok());
  Comparison c, d;
  ComparePositions("mha prefill 150", la->data(), rea->data(), rfa->data(),
                   ea.last_token_routing_margins(), 150, vocab, &c);
  ComparePositions("mha prefill 300 in 2 chunks", lb->data(), reb->data(), rfb->data(),
                   eb.last_token_routing_margins(), 1, vocab, &d);
  PrintComparison("mha prefill 150", c);
  {  // The same prompt through the absorbed kernel, for the log.
    GpuSessionOptions ao = so;
    ao.mha_prefill = false;
    auto absorbed = GpuSession::Create(*gpu, ao);
    ASSERT_TRUE(absorbed.ok());
    auto sa = (*absorbed)->AddSequence();
    ASSERT_TRUE(sa.ok() && (*absorbed)->Prefill(*sa, pa, true).ok());
    auto l2 = (*absorbed)->LogitsToHost();
    ASSERT_TRUE(l2.ok());
    Comparison c2;
    ComparePositions("absorbed prefill 150", l2->data(), rea->data(), rfa->data(),
                     ea.last_token_routing_margins(), 150, vocab, &c2);
    PrintComparison("absorbed prefill 150", c2);
    double worst = 0;
    for (int j = 0; j < 150; ++j) {
      worst = std::max(worst, testing::RelError(la->data() + j * vocab, l2->data() + j * vocab,
                                                vocab));
    }
    std::printf("[gpu-vs-gpu] mha vs absorbed prefill 150: max rel err %.3g\n", worst);
  }
  PrintComparison("mha prefill 300 in 2 chunks", d);
  std::vector<float> gpu_steps, ref_e, ref_f, margins;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(s.DecodeStep({*a, *b}, {pa[i], pb[i]}).ok());
    auto logits = s.LogitsToHost();
    ASSERT_TRUE(logits.ok());
    gpu_steps.insert(gpu_steps.end(), logits->begin(), logits->end());
    for (auto [e, f, tok] : {std::tuple{&ea, &fa, pa[i]}, std::tuple{&eb, &fb, pb[i]}}) {
      auto x = e->DecodeStep(tok);
      auto y = f->DecodeStep(tok);
      ASSERT_TRUE(x.ok() && y.ok());
      ref_e.insert(ref_e.end(), x->begin(), x->end());
      ref_f.insert(ref_f.end(), y->begin(), y->end());
      margins.push_back(e->last_token_routing_margins()[0]);
    }
  }
  Comparison st;
  ComparePositions("decode after mha prefills", gpu_steps.data(), ref_e.data(), ref_f.data(),
                   margins, 4, vocab, &st);
  PrintComparison("decode after mha prefills", st);
}

}  // namespace
}  // namespace sieve
