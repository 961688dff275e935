// CpuModelOptions::emulate_bf16_activations, the CPU oracle for the GPU decoder's rounding: on a
// tiny random model it must change the logits (the rounding points are really applied) by no more
// than bf16 noise, keep prefill and token-by-token decode consistent, and leave the default
// (fp32) model untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "decoder/cpu_model.h"
#include "decoder/random_model.h"
#include "tests/testing/scoped_temp_dir.h"

namespace sieve {
namespace {

double RelError(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (a[i] - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

TEST(CpuBf16Emulation, RoundsActivationsByBf16NoiseOnlyAndKeepsDecodeConsistent) {
  testing::ScopedTempDir dir;
  auto config = PresetConfig("tiny", 200);
  ASSERT_TRUE(config.ok());
  RandomModelOptions o;
  o.out_dir = dir.File("m");
  o.seed = 11;
  o.dtype = DType::kBF16;
  ASSERT_TRUE(WriteRandomModel(*config, o).ok());
  auto plain = CpuModel::Load(o.out_dir);
  CpuModelOptions e;
  e.emulate_bf16_activations = true;
  auto emulated = CpuModel::Load(o.out_dir, e);
  ASSERT_TRUE(plain.ok() && emulated.ok());
  EXPECT_FALSE((*plain)->emulates_bf16());
  EXPECT_TRUE((*emulated)->emulates_bf16());
  const int64_t vocab = config->vocab_size;
  std::vector<int32_t> tokens;
  for (int i = 0; i < 20; ++i) tokens.push_back((i * 13 + 3) % vocab);
  CpuSession a(*plain), b(*emulated), c(*emulated);
  auto la = a.Prefill(tokens, true, AttentionForm::kAbsorbed);
  auto lb = b.Prefill(tokens, true, AttentionForm::kAbsorbed);
  ASSERT_TRUE(la.ok() && lb.ok());
  double worst = 0, least = 1;
  for (size_t j = 0; j < tokens.size(); ++j) {
    const double err = RelError(lb->data() + j * vocab, la->data() + j * vocab, vocab);
    worst = std::max(worst, err);
    least = std::min(least, err);
  }
  EXPECT_GT(least, 1e-5) << "emulation changed nothing at some position";
  EXPECT_LT(worst, 2e-2);
  // Token-by-token decode with emulation reproduces the emulated prefill.
  for (size_t j = 0; j < tokens.size(); ++j) {
    auto step =
        j == 0 ? c.Prefill({tokens[0]}, false, AttentionForm::kAbsorbed) : c.DecodeStep(tokens[j]);
    ASSERT_TRUE(step.ok());
    EXPECT_LT(RelError(step->data(), lb->data() + j * vocab, vocab), 1e-5) << "position " << j;
  }
  ASSERT_EQ(b.last_token_routing_margins().size(), tokens.size());
  for (float m : b.last_token_routing_margins()) EXPECT_GE(m, 0.0f);
}

}  // namespace
}  // namespace sieve
