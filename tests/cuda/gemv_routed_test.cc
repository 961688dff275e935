// The shared gate_up GEMV carrying one token's routing (gemv_routed.h) against its two parts
// launched apart: LaunchGemv with the same fused norm, then LaunchMoeRouteFused normalising h +
// delta itself (which fused_routing_test.cc holds against the separate router, routing and align
// launches). Every output identical bit for bit: the GEMV's y, the residual stream it writes, the
// normalised x, and the logits, expert ids, weights and align tables. Over V2-Lite's batch-1
// shape (one wave of three blocks per SM on an H100), a smaller grid (two blocks per SM), expert
// counts that leave a router block part empty, two tokens (a router block spanning both), no
// residual delta, replays (the counter must come back to zero) and a PDL launch behind a kernel
// that writes its input.
#include "cuda/moe/gemv_routed.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "cuda/gemm/gemv.h"
#include "cuda/moe/fused_routing.h"
#include "tests/cuda/cuda_test_util.h"

namespace sieve::cuda {
namespace {

using testing::DeviceBuffer;
using testing::HaveDevice;
using testing::RandomBf16Values;
using testing::SameBits;
using testing::ToBf16;

struct RoutedCase {
  int tokens, hidden, inter, experts, top_k;
  bool delta, norm_topk;
};

// The buffers one run writes (poisoned before it).
struct Outputs {
  explicit Outputs(const RoutedCase& c)
      : y(c.tokens * c.inter),
        h_out(c.tokens * c.hidden),
        logits(c.tokens * c.experts),
        weights(c.tokens * c.top_k),
        ids(c.tokens * c.top_k),
        offsets(c.experts + 1),
        sorted(c.tokens * c.top_k),
        sorted_e(c.tokens * c.top_k),
        x(c.tokens * c.hidden) {}
  bool Poison() {
    return y.Poison() && h_out.Poison() && logits.Poison() && weights.Poison() && ids.Poison() &&
           offsets.Poison() && sorted.Poison() && sorted_e.Poison() && x.Poison();
  }
  DeviceBuffer<__nv_bfloat16> y;
  DeviceBuffer<float> h_out, logits, weights;
  DeviceBuffer<int32_t> ids, offsets, sorted, sorted_e;
  DeviceBuffer<__nv_bfloat16> x;
};

void ExpectSame(Outputs& got, Outputs& want) {
  EXPECT_TRUE(SameBits(got.y.Download(), want.y.Download())) << "GEMV output";
  EXPECT_TRUE(SameBits(got.h_out.Download(), want.h_out.Download())) << "residual stream";
  EXPECT_TRUE(SameBits(got.x.Download(), want.x.Download())) << "normalised x";
  EXPECT_TRUE(SameBits(got.logits.Download(), want.logits.Download())) << "router logits";
  EXPECT_TRUE(SameBits(got.weights.Download(), want.weights.Download())) << "weights";
  EXPECT_TRUE(SameBits(got.ids.Download(), want.ids.Download())) << "expert ids";
  EXPECT_TRUE(SameBits(got.offsets.Download(), want.offsets.Download())) << "offsets";
  EXPECT_TRUE(SameBits(got.sorted.Download(), want.sorted.Download())) << "sorted pairs";
  EXPECT_TRUE(SameBits(got.sorted_e.Download(), want.sorted_e.Download())) << "sorted experts";
}

void CheckRouted(const RoutedCase& c) {
  SCOPED_TRACE(::testing::Message()
               << "tokens " << c.tokens << " hidden " << c.hidden << " inter " << c.inter
               << " experts " << c.experts << " top_k " << c.top_k << (c.delta ? " delta" : ""));
  const int T = c.tokens, H = c.hidden, E = c.experts;
  std::mt19937 rng(H * 5 + E + c.inter + T);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> h(T * H), delta(T * H), router(static_cast<size_t>(E) * H);
  for (float& v : h) v = dist(rng);
  for (float& v : delta) v = 0.5f * dist(rng);
  for (float& v : router) v = 0.05f * dist(rng);
  DeviceBuffer<float> d_h(h), d_delta(delta), d_router(router);
  DeviceBuffer<__nv_bfloat16> d_norm_w(ToBf16(RandomBf16Values(H, 0.3f, H + 3)));
  DeviceBuffer<__nv_bfloat16> d_w(
      ToBf16(RandomBf16Values(static_cast<size_t>(2 * c.inter) * H, 0.05f, c.inter)));
  DeviceBuffer<uint32_t> counter(std::vector<uint32_t>{0u});
  ASSERT_TRUE(d_h.ok() && d_delta.ok() && d_router.ok() && d_norm_w.ok() && d_w.ok() &&
              counter.ok());
  auto params = [&](Outputs& o, GemvParams* g, MoeRouteFusedParams* r) {
    *g = GemvParams{};
    g->x = o.x.get();
    g->ldx = H;
    g->rows = T;
    g->k = H;
    g->segments = 1;
    g->seg[0] = {d_w.get(), c.inter, o.y.get(), c.inter, true};
    g->silu_mul = true;
    g->norm = {d_norm_w.get(), d_h.get(),      c.delta ? d_delta.get() : nullptr,
               o.h_out.get(),  /*x_out=*/true, 1e-6f};
    RouterLogitsParams rl{o.x.get(), H, d_router.get(), o.logits.get(), E, T, E, H};
    MoeRoutingParams mr{o.logits.get(), E, T, E, c.top_k, 1, 1, c.norm_topk, 2.5f, o.ids.get(),
                        o.weights.get()};
    MoeAlignParams ma{o.ids.get(),     T * c.top_k,    E,
                      o.offsets.get(), o.sorted.get(), o.sorted_e.get()};
    *r = MoeRouteFusedParams{rl, mr, ma, counter.get(), {}};
  };
  // The parts apart: the GEMV, then the routing with its own norm of the same h + delta.
  Outputs want(c), got(c);
  ASSERT_TRUE(want.Poison());
  GemvParams g;
  MoeRouteFusedParams r;
  params(want, &g, &r);
  ASSERT_EQ(LaunchGemv(g, nullptr), cudaSuccess);
  r.norm = {d_norm_w.get(), d_h.get(), c.delta ? d_delta.get() : nullptr, 1e-6f};
  ASSERT_EQ(LaunchMoeRouteFused(r, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  // One launch, three times (the counter is reset by the last router block).
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(got.Poison());
    params(got, &g, &r);
    ASSERT_TRUE(GemvRoutedSupported(g, r));
    ASSERT_EQ(LaunchGemvRouted(g, r, nullptr), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    ExpectSame(got, want);
    EXPECT_EQ(counter.Download(), std::vector<uint32_t>{0u});
  }
  // With PDL behind a kernel that writes h: a fused-norm GEMV whose block 0 writes h + 0 (the same
  // values) into a poisoned buffer, which the routed launch then reads as h. A read of h before
  // the wait would see NaN.
  DeviceBuffer<float> h_late(T * H), zeros(std::vector<float>(T * H, 0.0f)), scratch(T);
  ASSERT_TRUE(h_late.ok() && zeros.ok() && scratch.ok() && got.Poison() && h_late.Poison());
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  params(got, &g, &r);
  GemvParams writer = g;
  writer.silu_mul = false;
  writer.seg[0] = {d_w.get(), 1, scratch.get(), 1, false};
  writer.norm = {d_norm_w.get(), d_h.get(), zeros.get(), h_late.get(), false, 1e-6f};
  ASSERT_EQ(LaunchGemv(writer, stream), cudaSuccess);
  g.norm.h = h_late.get();
  ASSERT_EQ(LaunchGemvRouted(g, r, stream, /*pdl=*/true), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
  ExpectSame(got, want);
  EXPECT_EQ(counter.Download(), std::vector<uint32_t>{0u});
}

TEST(GemvRouted, EqualsTheGemvThenTheFusedRoutingBitForBit) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckRouted({1, 2048, 2816, 64, 6, true, false});  // V2-Lite batch 1: 352 + 8 blocks, one wave
  CheckRouted({1, 2048, 1408, 64, 6, true, true});   // 176 + 8 blocks: two blocks per SM
  CheckRouted({1, 64, 48, 8, 2, true, false});       // the tiny fixture's shape
  CheckRouted({1, 40, 24, 20, 3, false, true});      // no delta; the last router block half empty
  CheckRouted({2, 2048, 2816, 64, 6, true, false});  // V2-Lite batch 2: 16 router blocks
  CheckRouted({2, 64, 48, 8, 2, true, true});        // both tokens' pairs in one router block
  CheckRouted({2, 40, 24, 20, 3, false, false});     // a router block spanning both tokens
}

TEST(GemvRouted, RefusesWhatItDoesNotFuse) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  DeviceBuffer<float> f(1 << 15);
  DeviceBuffer<int32_t> i(4096);
  DeviceBuffer<__nv_bfloat16> b(1 << 15);
  DeviceBuffer<uint32_t> counter(std::vector<uint32_t>{0u});
  ASSERT_TRUE(f.ok() && i.ok() && b.ok() && counter.ok());
  const int H = 64, E = 8, k = 2;
  GemvParams g{};
  g.x = b.get();
  g.ldx = H;
  g.rows = 1;
  g.k = H;
  g.segments = 1;
  g.seg[0] = {b.get() + 4096, 16, b.get() + 1024, 16, true};
  g.silu_mul = true;
  g.norm = {b.get() + 2048, f.get(), f.get() + 1024, f.get() + 2048, true, 1e-6f};
  RouterLogitsParams rl{b.get(), H, f.get() + 4096, f.get() + 8192, E, 1, E, H};
  MoeRoutingParams mr{f.get() + 8192, E, 1, E, k, 1, 1, false, 1.0f, i.get(), f.get() + 9000};
  MoeAlignParams ma{i.get(), k, E, i.get() + 1024, i.get() + 2048, i.get() + 3072};
  const MoeRouteFusedParams r{rl, mr, ma, counter.get(), {}};
  ASSERT_TRUE(GemvRoutedSupported(g, r));
  GemvParams g2 = g;
  g2.norm.weight = nullptr;  // no norm: nothing to share with the router
  EXPECT_EQ(LaunchGemvRouted(g2, r, nullptr), cudaErrorInvalidValue);
  g2 = g;
  g2.rows = 2;  // the router would route another number of tokens
  EXPECT_FALSE(GemvRoutedSupported(g2, r));
  g2.rows = 3;  // three tokens: the decoder's GEMV steps take up to two
  MoeRouteFusedParams r3 = r;
  r3.logits.tokens = r3.routing.tokens = 3;
  r3.align.num_pairs = 3 * k;
  EXPECT_TRUE(MoeRouteFusedSupported(r3));
  EXPECT_FALSE(GemvRoutedSupported(g2, r3));
  g2 = g;
  g2.k = g2.ldx = 2056;  // two norm batches per thread
  MoeRouteFusedParams r2 = r;
  r2.logits.hidden = r2.logits.x_stride = 2056;
  EXPECT_FALSE(GemvRoutedSupported(g2, r2));
  r2 = r;
  r2.logits.hidden = 32;  // the router reads another width than the GEMV normalises
  EXPECT_EQ(LaunchGemvRouted(g, r2, nullptr), cudaErrorInvalidValue);
  r2 = r;
  r2.routing.n_group = r2.routing.topk_group = 2;  // group-limited routing
  EXPECT_FALSE(GemvRoutedSupported(g, r2));
  r2 = r;
  r2.norm = {b.get() + 2048, f.get(), nullptr, 1e-6f};  // the GEMV's norm is the router's
  EXPECT_FALSE(GemvRoutedSupported(g, r2));
  r2 = r;
  r2.logits.w = f.get() + 4097;  // router rows copied to shared memory in 16-byte pieces
  EXPECT_FALSE(GemvRoutedSupported(g, r2));
  r2 = r;
  r2.counter = nullptr;
  EXPECT_EQ(LaunchGemvRouted(g, r2, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

}  // namespace
}  // namespace sieve::cuda
