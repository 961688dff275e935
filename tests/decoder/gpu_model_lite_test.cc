// The GPU forward pass at DeepSeek-V2-Lite's real widths (hidden 2048, 16 heads, kv_lora 512,
// rope 64, nope/v 128, dense intermediate 10944, experts of 1408 with 2 shared, top-6), cut to
// two layers (one dense, one MoE), 16 routed experts and a 2048-token vocabulary so the fp32 CPU
// references stay affordable: prefill logits at all 65 positions (crossing a cache page) and 8
// batched decode steps against the emulated and fp32 references, with the tolerances of
// gpu_test_util.h. Covers what the tiny models cannot: 576-wide cache rows, full 512-float latent
// per lane in the MLA kernel, cuBLAS at production shapes. Label gpu; skipped without a device.
#include <gtest/gtest.h>

#include <memory>
#include <string>
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

TEST(GpuModelAtV2LiteWidths, PrefillAndBatchedDecodeMatchTheCpuReferences) {
  if (!testing::HaveDevice()) GTEST_SKIP() << "no CUDA device";
  auto config = PresetConfig("v2-lite", 2048);
  ASSERT_TRUE(config.ok());
  config->num_hidden_layers = 2;
  config->n_routed_experts = 16;
  testing::ScopedTempDir dir;
  const std::string f32 = dir.File("f32"), bf16 = dir.File("bf16");
  for (auto [out, dtype] : {std::pair{f32, DType::kF32}, std::pair{bf16, DType::kBF16}}) {
    RandomModelOptions o;
    o.out_dir = out;
    o.seed = 5;
    o.dtype = dtype;
    auto r = WriteRandomModel(*config, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  auto fp32 = CpuModel::Load(f32);
  CpuModelOptions emulate;
  emulate.emulate_bf16_activations = true;
  auto emulated = CpuModel::Load(bf16, emulate);
  auto gpu = GpuModel::Load(bf16);
  ASSERT_TRUE(fp32.ok() && emulated.ok()) << fp32.status().ToString();
  ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();
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

}  // namespace
}  // namespace sieve
