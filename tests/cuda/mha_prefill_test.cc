// The MHA-form prefill attention (cuda/attention/mha_prefill.h) against a double-precision
// causal softmax over the same bf16-rounded queries, keys and values: chunks that start at 0 and
// later in the context, partial query and key tiles, several heads with their own k_nope / v and
// the shared k_pe; and the latent gather over shuffled pages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "cuda/attention/mha_prefill.h"
#include "tests/cuda/cuda_test_util.h"

namespace sieve::cuda {
namespace {

using testing::AllClose;
using testing::DeviceBuffer;
using testing::FromBf16;
using testing::HaveDevice;
using testing::RandomBf16Values;
using testing::RoundBf16;
using testing::ToBf16;

struct Case {
  int tokens, heads, first;
};

void Check(const Case& c) {
  SCOPED_TRACE(::testing::Message() << "tokens " << c.tokens << " heads " << c.heads
                                    << " first position " << c.first);
  const int T = c.tokens, nh = c.heads, ctx = c.first + c.tokens;
  const int qk = kMhaNope + kMhaRope, kvw = kMhaNope + kMhaV;
  const int q_stride = nh * qk + 4;  // q rows as the decoder's q_ (nope first), padded
  std::vector<float> q = RandomBf16Values(static_cast<size_t>(T) * q_stride, 1.0f, 7);
  std::vector<float> q_pe = RandomBf16Values(static_cast<size_t>(T) * nh * kMhaRope, 1.0f, 8);
  for (float& v : q) v += 1e-3f;  // not bf16-exact: the kernel rounds to bf16
  const std::vector<float> kv = RandomBf16Values(static_cast<size_t>(ctx) * nh * kvw, 1.0f, 9);
  const std::vector<float> k_pe = RandomBf16Values(static_cast<size_t>(ctx) * kMhaRope, 1.0f, 10);
  const float scale = 1.0f / std::sqrt(static_cast<float>(qk));

  std::vector<float> want(static_cast<size_t>(T) * nh * kMhaV);
  for (int i = 0; i < T; ++i) {
    for (int h = 0; h < nh; ++h) {
      const int pos = c.first + i;
      std::vector<double> s(pos + 1);
      double mx = -1e300;
      for (int j = 0; j <= pos; ++j) {
        double d = 0;
        for (int e = 0; e < kMhaNope; ++e) {
          d += static_cast<double>(RoundBf16(q[i * q_stride + h * qk + e])) *
               kv[(static_cast<size_t>(j) * nh + h) * kvw + e];
        }
        for (int e = 0; e < kMhaRope; ++e) {
          d += static_cast<double>(RoundBf16(q_pe[(i * nh + h) * kMhaRope + e])) *
               k_pe[j * kMhaRope + e];
        }
        s[j] = d * scale;
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (double& v : s) sum += (v = std::exp(v - mx));
      for (int e = 0; e < kMhaV; ++e) {
        double o = 0;
        for (int j = 0; j <= pos; ++j) {
          o += s[j] * kv[(static_cast<size_t>(j) * nh + h) * kvw + kMhaNope + e];
        }
        want[(static_cast<size_t>(i) * nh + h) * kMhaV + e] = static_cast<float>(o / sum);
      }
    }
  }
  DeviceBuffer<float> d_q(q), d_qpe(q_pe);
  DeviceBuffer<__nv_bfloat16> d_kv(ToBf16(kv)), d_kpe(ToBf16(k_pe)),
      d_out(static_cast<size_t>(T) * nh * kMhaV);
  ASSERT_TRUE(d_q.ok() && d_qpe.ok() && d_kv.ok() && d_kpe.ok() && d_out.ok() && d_out.Poison());
  MhaPrefillParams p{d_q.get(),  q_stride,   qk,           d_qpe.get(), nh * kMhaRope,
                     kMhaRope,   d_kv.get(), nh * kvw,     kvw,         d_kpe.get(),
                     kMhaRope,   d_out.get(), nh * kMhaV,  kMhaV,       T,
                     nh,         c.first,    scale};
  ASSERT_EQ(LaunchMhaPrefill(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  // P is rounded to bf16 for P V (flash attention's choice) and the output to bf16.
  EXPECT_TRUE(AllClose(FromBf16(d_out.Download()), want, 1e-2, 1e-2));
}

TEST(MhaPrefill, MatchesADoubleCausalSoftmax) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  Check({80, 3, 0});    // a prompt from position 0: two query tiles, the second partial
  Check({70, 2, 100});  // a later chunk: keys 0 .. 169 in three tiles, the last partial
  Check({1, 1, 5});     // one query
  Check({130, 2, 64});  // three query tiles over a context that starts on a tile boundary
}

TEST(MhaPrefill, RefusesMisalignedRows) {
  MhaPrefillParams p{};
  p.tokens = p.heads = 1;
  p.kv_token_stride = 260;
  p.kv_head_stride = 256;
  p.k_pe_token_stride = 64;
  p.q_nope_token_stride = p.q_pe_token_stride = p.out_token_stride = 2;
  p.q_nope_head_stride = p.q_pe_head_stride = p.out_head_stride = 2;
  EXPECT_FALSE(MhaPrefillSupported(p));  // kv rows 260 elements apart: not 16-byte aligned
  p.kv_token_stride = 256;
  EXPECT_TRUE(MhaPrefillSupported(p));
  p.first_position = -1;
  EXPECT_FALSE(MhaPrefillSupported(p));
}

TEST(LatentGather, CopiesASequencesRowsThroughItsPages) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  const int pages = 5, page_size = 4, width = 16, tokens = 13;
  const std::vector<float> cache = RandomBf16Values(pages * page_size * width, 1.0f, 3);
  std::vector<int32_t> table = {3, 0, 4, 1};  // tokens 0-3 in page 3, 4-7 in page 0, ...
  DeviceBuffer<__nv_bfloat16> d_cache(ToBf16(cache)), d_dst(tokens * width);
  DeviceBuffer<int32_t> d_table(table);
  ASSERT_TRUE(d_cache.ok() && d_dst.ok() && d_table.ok() && d_dst.Poison());
  const LatentGatherParams p{d_cache.get(), d_table.get(), page_size, width, tokens, d_dst.get()};
  ASSERT_EQ(LaunchLatentGather(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<float> want(tokens * width);
  for (int t = 0; t < tokens; ++t) {
    const int slot = table[t / page_size] * page_size + t % page_size;
    std::copy_n(cache.begin() + slot * width, width, want.begin() + t * width);
  }
  EXPECT_TRUE(AllClose(FromBf16(d_dst.Download()), want, 0.0, 0.0));
  LatentGatherParams bad = p;
  bad.width = 12;  // not a multiple of 8
  EXPECT_EQ(LaunchLatentGather(bad, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace sieve::cuda
