// The decode GEMV (gemv.h) against double CPU products, every element: token counts 1 / odd / the
// maximum, widths that are and are not multiples of the 256-element lane stride, one and two
// output segments with odd sizes (the second starting mid-warp), the fused SwiGLU mode, fp32 and
// bf16 outputs into padded rows (the padding must stay untouched), and the shapes it refuses.
// The fused RMSNorm front (GemvNorm) must equal LaunchRmsNorm followed by the plain GEMV bit for
// bit: the residual stream it writes, the normalised x and the products.
#include "cuda/gemm/gemv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "cuda/norm/rms_norm.h"
#include "tests/cuda/cuda_test_util.h"

namespace sieve::cuda {
namespace {

using testing::DeviceBuffer;
using testing::ExpectRefused;
using testing::FromBf16;
using testing::HaveDevice;
using testing::RandomBf16Values;
using testing::SameBits;
using testing::ToBf16;

struct GemvCase {
  int rows, k;
  std::vector<int> n;  // per segment
  bool silu_mul, y_bf16;
};

// A GEMV over `rows` token rows of x (k wide, ldx apart) into one output segment.
GemvParams OneSegment(const __nv_bfloat16* x, int64_t ldx, int rows, int k, GemvSegment seg,
                      bool silu_mul = false) {
  GemvParams p{};
  p.x = x;
  p.ldx = ldx;
  p.rows = rows;
  p.k = k;
  p.segments = 1;
  p.seg[0] = seg;
  p.silu_mul = silu_mul;
  return p;
}

void CheckGemv(const GemvCase& c) {
  SCOPED_TRACE(::testing::Message()
               << "rows " << c.rows << " k " << c.k << " segments " << c.n.size() << " n0 "
               << c.n[0] << (c.silu_mul ? " silu_mul" : "")
               << (c.y_bf16 ? " bf16 out" : " fp32 out"));
  const int64_t ldx = c.k + 8;
  const std::vector<float> x =
      RandomBf16Values(static_cast<size_t>(c.rows) * ldx, 1.0f, c.rows * 7 + c.k);
  const int segs = static_cast<int>(c.n.size());
  std::vector<std::vector<float>> w(segs);
  std::vector<std::unique_ptr<DeviceBuffer<__nv_bfloat16>>> d_w, d_y16;
  std::vector<std::unique_ptr<DeviceBuffer<float>>> d_y32;
  GemvParams p{};
  std::vector<int64_t> ldy(segs);
  for (int s = 0; s < segs; ++s) {
    const int w_rows = c.silu_mul ? 2 * c.n[s] : c.n[s];
    w[s] = RandomBf16Values(static_cast<size_t>(w_rows) * c.k, 0.2f, 31 * s + c.n[s] + c.k);
    ldy[s] = c.n[s] + 3;
    d_w.push_back(std::make_unique<DeviceBuffer<__nv_bfloat16>>(ToBf16(w[s])));
    d_y32.push_back(std::make_unique<DeviceBuffer<float>>(static_cast<size_t>(c.rows) * ldy[s]));
    d_y16.push_back(
        std::make_unique<DeviceBuffer<__nv_bfloat16>>(static_cast<size_t>(c.rows) * ldy[s]));
  }
  DeviceBuffer<__nv_bfloat16> d_x(ToBf16(x));
  ASSERT_TRUE(d_x.ok());
  p.x = d_x.get();
  p.ldx = ldx;
  p.rows = c.rows;
  p.k = c.k;
  p.segments = segs;
  p.silu_mul = c.silu_mul;
  for (int s = 0; s < segs; ++s) {
    ASSERT_TRUE(d_w[s]->ok() && d_y32[s]->ok() && d_y16[s]->ok());
    ASSERT_TRUE(d_y32[s]->Poison() && d_y16[s]->Poison());  // NaN everywhere
    p.seg[s].w = d_w[s]->get();
    p.seg[s].n = c.n[s];
    p.seg[s].y =
        c.y_bf16 ? static_cast<void*>(d_y16[s]->get()) : static_cast<void*>(d_y32[s]->get());
    p.seg[s].ldy = ldy[s];
    p.seg[s].y_bf16 = c.y_bf16;
  }
  ASSERT_TRUE(GemvSupported(p));
  ASSERT_EQ(LaunchGemv(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);

  for (int s = 0; s < segs; ++s) {
    const std::vector<float> got = c.y_bf16 ? FromBf16(d_y16[s]->Download()) : d_y32[s]->Download();
    auto dot = [&](int row, int m, double* mag) {
      double sum = 0;
      *mag = 0;
      for (int kk = 0; kk < c.k; ++kk) {
        const double v =
            static_cast<double>(x[m * ldx + kk]) * w[s][static_cast<size_t>(row) * c.k + kk];
        sum += v;
        *mag += std::fabs(v);
      }
      return sum;
    };
    for (int m = 0; m < c.rows; ++m) {
      for (int64_t j = 0; j < ldy[s]; ++j) {
        const float g = got[m * ldy[s] + j];
        if (j >= c.n[s]) {
          ASSERT_TRUE(std::isnan(g)) << "padding written at token " << m << " column " << j;
          continue;
        }
        double want, bound;
        if (c.silu_mul) {
          double mg, mu;
          const double gate = dot(static_cast<int>(j), m, &mg);
          const double up = dot(static_cast<int>(j) + c.n[s], m, &mu);
          const double silu = gate / (1 + std::exp(-gate));
          want = silu * up;
          // fp32 sums: ~1e-5 of sum |x w| each; silu' is at most 1.1 in magnitude.
          bound = 1.1 * std::fabs(up) * 1e-5 * mg + std::fabs(silu) * 1e-5 * mu + 1e-10 * mg * mu;
        } else {
          double mag;
          want = dot(static_cast<int>(j), m, &mag);
          bound = 1e-5 * mag;
        }
        bound += (c.y_bf16 ? 8e-3 * std::fabs(want) : 0) + 1e-6;
        ASSERT_TRUE(std::isfinite(g)) << "token " << m << " column " << j;
        ASSERT_LE(std::fabs(g - want), bound) << "segment " << s << " token " << m << " column "
                                              << j << " got " << g << " want " << want;
      }
    }
  }
}

TEST(Gemv, MatchesDoubleProductsForEveryShape) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  for (int rows : {1, 3, 8}) {
    CheckGemv({rows, 8, {5}, false, false});          // one chunk per row
    CheckGemv({rows, 40, {37}, false, true});         // odd rows, bf16 out
    CheckGemv({rows, 2048, {33, 10}, false, false});  // V2-Lite width, two segments
    CheckGemv({rows, 2056, {64, 1}, false, true});    // width not a multiple of 256
    CheckGemv({rows, 2048, {19}, true, true});        // SwiGLU into bf16 (the MLP's act)
    CheckGemv({rows, 1416, {7}, true, false});        // SwiGLU, odd chunk count
  }
  CheckGemv({2, 4096, {1, 1}, false, false});  // one row per segment
  CheckGemv({1, 2816, {2048}, false, false});  // V2-Lite shared down_proj: two rounds per row
}

void CheckFusedNorm(int rows, int k, int n, bool with_delta, bool silu) {
  SCOPED_TRACE(::testing::Message() << "rows " << rows << " k " << k << " n " << n
                                    << (with_delta ? " delta" : "") << (silu ? " silu_mul" : ""));
  const std::vector<float> h = RandomBf16Values(static_cast<size_t>(rows) * k, 2.0f, rows + k);
  const std::vector<float> delta = RandomBf16Values(h.size(), 0.7f, 3 * k + n);
  const std::vector<float> weight = RandomBf16Values(k, 1.0f, 5 + k);
  const std::vector<float> w = RandomBf16Values(static_cast<size_t>(silu ? 2 * n : n) * k, 0.2f, n);
  const float eps = 1e-6f;
  DeviceBuffer<float> d_h(h), d_delta(delta), d_h_ref(h), d_h_out(h.size());
  DeviceBuffer<__nv_bfloat16> d_weight(ToBf16(weight)), d_w(ToBf16(w));
  DeviceBuffer<__nv_bfloat16> d_x_ref(h.size()), d_x(h.size());
  DeviceBuffer<float> d_y_ref(static_cast<size_t>(rows) * n), d_y(static_cast<size_t>(rows) * n);
  ASSERT_TRUE(d_h.ok() && d_delta.ok() && d_h_ref.ok() && d_h_out.ok() && d_weight.ok() &&
              d_w.ok() && d_x_ref.ok() && d_x.ok() && d_y_ref.ok() && d_y.ok());
  ASSERT_TRUE(d_h_out.Poison() && d_x.Poison() && d_y.Poison() && d_x_ref.Poison());
  // Reference: the RMSNorm kernel in place, then the plain GEMV.
  RmsNormParams rn{d_h_ref.get(),
                   k,
                   with_delta ? d_delta.get() : nullptr,
                   k,
                   d_weight.get(),
                   d_x_ref.get(),
                   k,
                   rows,
                   k,
                   eps};
  ASSERT_EQ(LaunchRmsNorm(rn, nullptr), cudaSuccess);
  GemvParams p =
      OneSegment(d_x_ref.get(), k, rows, k, {d_w.get(), n, d_y_ref.get(), n, false}, silu);
  ASSERT_EQ(LaunchGemv(p, nullptr), cudaSuccess);
  // Fused.
  p.x = d_x.get();
  p.seg[0].y = d_y.get();
  p.norm = {d_weight.get(), d_h.get(), with_delta ? d_delta.get() : nullptr,
            d_h_out.get(),  true,      eps};
  ASSERT_TRUE(GemvSupported(p));
  ASSERT_EQ(LaunchGemv(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_TRUE(SameBits(d_h_out.Download(), d_h_ref.Download())) << "residual stream";
  EXPECT_TRUE(SameBits(d_x.Download(), d_x_ref.Download())) << "normalised x";
  EXPECT_TRUE(SameBits(d_y.Download(), d_y_ref.Download())) << "products";
  EXPECT_TRUE(SameBits(d_h.Download(), h)) << "the input stream must stay as it was";
}

TEST(Gemv, FusedNormEqualsRmsNormThenGemvBitForBit) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckFusedNorm(1, 2048, 3072 + 576, true, false);  // V2-Lite q_proj + kv_a rows, batch 1
  CheckFusedNorm(2, 2048, 2816, true, true);         // shared experts' SwiGLU, batch 2
  CheckFusedNorm(1, 2048, 64, false, false);         // layer 0: no residual delta
  CheckFusedNorm(3, 40, 9, true, true);              // odd rows and widths
  CheckFusedNorm(8, 2048, 17, true, false);          // 8 x 2048 = the shared-memory limit
  // The shared experts' SwiGLU at batch 1 (352 blocks): on a card of 118..175 SMs (H100: 132)
  // the fused launch runs as one wave of three blocks per SM with 2 chunks per row in flight,
  // the plain one as two waves with 8: the same bits.
  CheckFusedNorm(1, 2048, 2816, true, true);
  CheckFusedNorm(1, 2816, 64, true, false);  // rows over 2048: the general norm (NormRows)
}

// A segment with `accumulate` adds its sums into y: the same bits as the plain GEMV's output
// added on the host in fp32 (one rounding), for one and two segments (the second plain), with and
// without PDL; the padding of y stays untouched.
TEST(Gemv, AccumulatingSegmentAddsItsSumsIntoYBitForBit) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  for (const int n : {2048, 37}) {
    const int k = n == 2048 ? 2816 : 40, ldy = n + 3;  // V2-Lite's shared down_proj; odd small
    SCOPED_TRACE(::testing::Message() << "n " << n << " k " << k);
    const std::vector<float> x = RandomBf16Values(k, 1.0f, 41 + n);
    const std::vector<float> w = RandomBf16Values(static_cast<size_t>(n) * k, 0.1f, 43 + n);
    const std::vector<float> w2 = RandomBf16Values(static_cast<size_t>(5) * k, 0.1f, 47 + n);
    std::vector<float> y0 = RandomBf16Values(ldy, 3.0f, 53 + n);
    DeviceBuffer<__nv_bfloat16> d_x(ToBf16(x)), d_w(ToBf16(w)), d_w2(ToBf16(w2));
    DeviceBuffer<float> plain(ldy), second_plain(5), acc(y0), second(5);
    ASSERT_TRUE(d_x.ok() && d_w.ok() && d_w2.ok() && plain.ok() && second_plain.ok() && acc.ok() &&
                second.ok());
    GemvParams p = OneSegment(d_x.get(), k, 1, k, {d_w.get(), n, plain.get(), ldy, false});
    p.segments = 2;
    p.seg[1] = {d_w2.get(), 5, second_plain.get(), 5, false};
    ASSERT_EQ(LaunchGemv(p, nullptr), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    const std::vector<float> sums = plain.Download();
    std::vector<float> want = y0;
    for (int j = 0; j < n; ++j) want[j] = y0[j] + sums[j];
    for (const bool pdl : {false, true}) {
      ASSERT_TRUE(acc.Upload(y0) && second.Poison());
      GemvParams q = p;
      q.seg[0] = {d_w.get(), n, acc.get(), ldy, false, /*accumulate=*/true};
      q.seg[1].y = second.get();
      ASSERT_TRUE(GemvSupported(q));
      ASSERT_EQ(LaunchGemv(q, nullptr, pdl), cudaSuccess);
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      EXPECT_TRUE(SameBits(acc.Download(), want)) << (pdl ? "pdl" : "plain");
      EXPECT_TRUE(SameBits(second.Download(), second_plain.Download())) << "plain segment";
    }
  }
}

// The decoder's batch-1 chain launched with programmatic dependent launch (pdl.cuh): per layer a
// fused-norm GEMV (h + delta -> the other residual buffer, x, bf16 y) and a plain GEMV reading
// that y as its x and writing the next delta. Every GEMV reads what the one before it wrote, and
// the intermediates are poisoned (NaN) before each chain, so a read before the wait would show.
// The final residual stream must equal the plain launches' bit for bit, over several repeats.
std::vector<float> RunChain(bool pdl, int rows, int k, int layers, const std::vector<float>& h0,
                            const std::vector<float>& delta0, DeviceBuffer<__nv_bfloat16>& norm_w,
                            DeviceBuffer<__nv_bfloat16>& w1, DeviceBuffer<__nv_bfloat16>& w2,
                            cudaStream_t stream) {
  const size_t n = static_cast<size_t>(rows) * k;
  DeviceBuffer<float> h[2] = {DeviceBuffer<float>(h0), DeviceBuffer<float>(n)};
  DeviceBuffer<float> delta(delta0);
  DeviceBuffer<__nv_bfloat16> x(n), a(n);
  if (!h[0].ok() || !h[1].ok() || !delta.ok() || !x.ok() || !a.ok() || !h[1].Poison() ||
      !x.Poison() || !a.Poison()) {
    ADD_FAILURE() << "device buffers";
    return {};
  }
  for (int l = 0; l < layers; ++l) {
    GemvParams g1 = OneSegment(x.get(), k, rows, k, {w1.get(), k, a.get(), k, true});
    g1.norm = {norm_w.get(), h[l % 2].get(), delta.get(), h[(l + 1) % 2].get(), true, 1e-6f};
    const GemvParams g2 = OneSegment(a.get(), k, rows, k, {w2.get(), k, delta.get(), k, false});
    if (LaunchGemv(g1, stream, pdl) != cudaSuccess || LaunchGemv(g2, stream, pdl) != cudaSuccess) {
      ADD_FAILURE() << "launch";
      return {};
    }
  }
  if (cudaStreamSynchronize(stream) != cudaSuccess) {
    ADD_FAILURE() << "chain failed";
    return {};
  }
  std::vector<float> out = h[layers % 2].Download();
  const std::vector<float> d = delta.Download();
  out.insert(out.end(), d.begin(), d.end());
  return out;
}

TEST(Gemv, ProgrammaticLaunchChainEqualsPlainLaunchesBitForBit) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  for (int rows : {1, 2}) {
    const int k = 2048, layers = 6;
    SCOPED_TRACE(::testing::Message() << "rows " << rows);
    const std::vector<float> h0 = RandomBf16Values(static_cast<size_t>(rows) * k, 2.0f, 11 + rows);
    const std::vector<float> d0 = RandomBf16Values(h0.size(), 0.7f, 13 + rows);
    // Weights scaled so the stream stays finite over the layers (|W x| ~ |x|).
    DeviceBuffer<__nv_bfloat16> norm_w(ToBf16(RandomBf16Values(k, 1.0f, 17)));
    DeviceBuffer<__nv_bfloat16> w1(ToBf16(RandomBf16Values(static_cast<size_t>(k) * k, 0.03f, 19)));
    DeviceBuffer<__nv_bfloat16> w2(ToBf16(RandomBf16Values(static_cast<size_t>(k) * k, 0.03f, 23)));
    ASSERT_TRUE(norm_w.ok() && w1.ok() && w2.ok());
    const std::vector<float> plain =
        RunChain(false, rows, k, layers, h0, d0, norm_w, w1, w2, stream);
    ASSERT_EQ(plain.size(), 2 * h0.size());
    for (float v : plain) {
      ASSERT_TRUE(std::isfinite(v)) << "plain chain produced a non-finite value";
    }
    for (int repeat = 0; repeat < 4; ++repeat) {
      const std::vector<float> got =
          RunChain(true, rows, k, layers, h0, d0, norm_w, w1, w2, stream);
      EXPECT_TRUE(SameBits(got, plain)) << "repeat " << repeat;
    }
  }
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

// A kernel launched with PDL right after its stream joined another stream (event record + wait:
// the decoder's batch-1 MoE layers leave the shared experts' down_proj on the side stream and the
// next layer's first GEMV follows the join with PDL) must see that stream's output: its wait
// covers the other stream's kernel, eagerly and replayed from a captured graph. The side GEMV is
// made slow (8 rows of 1M elements streamed by four warps of one block: ~0.5 ms) and triggers its
// dependents at once, so a consumer reading its bf16 output early would read the poison (NaN).
TEST(Gemv, ProgrammaticLaunchAfterAnEventJoinSeesTheOtherStreamsOutput) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  const int slow_k = 1 << 20, n = 8, out_n = 16;
  const std::vector<float> xs = RandomBf16Values(slow_k, 1.0f, 61);
  DeviceBuffer<__nv_bfloat16> slow_x(ToBf16(xs)),
      slow_w(ToBf16(RandomBf16Values(static_cast<size_t>(n) * slow_k, 0.001f, 67))),
      side_y(n), w(ToBf16(RandomBf16Values(static_cast<size_t>(out_n) * n, 0.5f, 71))),
      first_w(ToBf16(RandomBf16Values(static_cast<size_t>(n) * n, 0.5f, 73))), first_x(n);
  DeviceBuffer<float> y(out_n), first_y(n);
  ASSERT_TRUE(slow_x.ok() && slow_w.ok() && side_y.ok() && w.ok() && first_w.ok() &&
              first_x.ok() && y.ok() && first_y.ok() && first_x.Poison(0));
  cudaStream_t main = nullptr, side = nullptr;
  cudaEvent_t fork = nullptr, join = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&main, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming), cudaSuccess);
  ASSERT_EQ(cudaEventCreateWithFlags(&join, cudaEventDisableTiming), cudaSuccess);
  const GemvParams slow =
      OneSegment(slow_x.get(), slow_k, 1, slow_k, {slow_w.get(), n, side_y.get(), n, true});
  const GemvParams first = OneSegment(first_x.get(), n, 1, n, {first_w.get(), n, first_y.get(), n});
  const GemvParams consumer = OneSegment(side_y.get(), n, 1, n, {w.get(), out_n, y.get(), out_n});
  // main: first GEMV; side (forked after it): the slow GEMV; main joins, then the consumer (PDL).
  auto enqueue = [&]() {
    return cudaEventRecord(fork, main) == cudaSuccess &&
           cudaStreamWaitEvent(side, fork, 0) == cudaSuccess &&
           LaunchGemv(first, main, true) == cudaSuccess &&
           LaunchGemv(slow, side, true) == cudaSuccess &&
           cudaEventRecord(join, side) == cudaSuccess &&
           cudaStreamWaitEvent(main, join, 0) == cudaSuccess &&
           LaunchGemv(consumer, main, true) == cudaSuccess;
  };
  // The expected output: the same launches one at a time.
  ASSERT_EQ(LaunchGemv(slow, nullptr), cudaSuccess);
  ASSERT_EQ(LaunchGemv(consumer, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<float> want = y.Download();
  for (float v : want) ASSERT_TRUE(std::isfinite(v));
  for (int run = 0; run < 3; ++run) {  // eager
    ASSERT_TRUE(side_y.Poison() && y.Poison());
    ASSERT_TRUE(enqueue());
    ASSERT_EQ(cudaStreamSynchronize(main), cudaSuccess);
    EXPECT_TRUE(SameBits(y.Download(), want)) << "eager run " << run;
  }
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(main, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  const bool captured = enqueue();
  ASSERT_EQ(cudaStreamEndCapture(main, &graph), cudaSuccess);
  ASSERT_TRUE(captured);
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  for (int run = 0; run < 3; ++run) {  // graph replays
    ASSERT_TRUE(side_y.Poison() && y.Poison());
    ASSERT_EQ(cudaGraphLaunch(exec, main), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(main), cudaSuccess);
    EXPECT_TRUE(SameBits(y.Download(), want)) << "graph replay " << run;
  }
  ASSERT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  ASSERT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  ASSERT_EQ(cudaEventDestroy(fork), cudaSuccess);
  ASSERT_EQ(cudaEventDestroy(join), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(side), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(main), cudaSuccess);
}

TEST(Gemv, RefusesShapesItCannotRun) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  DeviceBuffer<__nv_bfloat16> buf(4096);
  ASSERT_TRUE(buf.ok());
  const GemvParams p = OneSegment(buf.get(), 64, 1, 64, {buf.get(), 4, buf.get(), 4, true});
  EXPECT_TRUE(GemvSupported(p));
  const auto launch = [](const GemvParams& q) { return LaunchGemv(q, nullptr); };
  using P = GemvParams;
  ExpectRefused(p, launch, "no rows", [](P& q) { q.rows = 0; });
  ExpectRefused(p, launch, "too many rows", [](P& q) { q.rows = kGemvMaxRows + 1; });
  ExpectRefused(p, launch, "k not a multiple of 8", [](P& q) { q.k = q.ldx = 60; });
  ExpectRefused(p, launch, "x not 16-byte aligned", [&](P& q) { q.x = buf.get() + 1; });
  ExpectRefused(p, launch, "ldy narrower than n", [](P& q) { q.seg[0].ldy = 3; });
  GemvParams q = p;
  q.segments = 2;  // second segment empty
  EXPECT_EQ(LaunchGemv(q, nullptr), cudaErrorInvalidValue);
  q.seg[1] = p.seg[0];
  EXPECT_TRUE(GemvSupported(q));
  q.silu_mul = true;  // SwiGLU takes one segment
  EXPECT_EQ(LaunchGemv(q, nullptr), cudaErrorInvalidValue);
  DeviceBuffer<float> h(4096);
  ASSERT_TRUE(h.ok());
  q = p;
  q.norm = {buf.get(), h.get(), h.get() + 64, h.get() + 128, true, 1e-6f};
  EXPECT_TRUE(GemvSupported(q));
  q.norm.h_out = h.get();  // would overwrite what other blocks still read
  EXPECT_EQ(LaunchGemv(q, nullptr), cudaErrorInvalidValue);
  q.norm.h_out = nullptr;  // h + delta would be lost
  EXPECT_EQ(LaunchGemv(q, nullptr), cudaErrorInvalidValue);
  q = p;
  q.seg[0].accumulate = true;  // into bf16 y
  EXPECT_EQ(LaunchGemv(q, nullptr), cudaErrorInvalidValue);
  q.seg[0].y_bf16 = false;
  EXPECT_TRUE(GemvSupported(q));
  q.silu_mul = true;  // the SwiGLU output is a product, not a sum to add
  EXPECT_EQ(LaunchGemv(q, nullptr), cudaErrorInvalidValue);
  q.silu_mul = false;
  q.norm = {buf.get(), h.get(), h.get() + 64, h.get() + 128, true, 1e-6f};  // fused-norm kernels
  EXPECT_EQ(LaunchGemv(q, nullptr), cudaErrorInvalidValue);                  // do not add
  q.seg[0].accumulate = false;
  q.norm.h_out = h.get() + 128;
  q.rows = 8;
  q.k = 2056;  // 8 x 2056 bf16 exceed the shared memory the norm may take
  q.ldx = 2056;
  EXPECT_FALSE(GemvSupported(q));
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

}  // namespace
}  // namespace sieve::cuda
