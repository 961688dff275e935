// MLA on the GPU against CPU references: appending tokens to the paged latent cache (RMSNorm of
// c, rope of k_pe, bf16, slots scattered over shuffled pages, padding slots skipped) and absorbed
// decode attention over that cache, every output element, for V2-Lite's and a tiny config's
// widths and the widest row the kernel takes (640), batch 1 and odd batches, sequence lengths 0,
// 1, 63, 64, 65 and a few pages, page sizes 64 and 16; and the decoder's PDL chain of append then
// decode (tiles copied before the wait) against plain launches, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "cuda/attention/latent_cache.h"
#include "cuda/attention/mla_decode.h"
#include "cuda/config.h"
#include "decoder/random_model.h"
#include "decoder/rope.h"
#include "tests/cuda/cuda_test_util.h"

namespace sieve::cuda {
namespace {

using testing::AllClose;
using testing::DeviceBuffer;
using testing::FromBf16;
using testing::HaveDevice;
using testing::RandomBf16Values;
using testing::RoundBf16;
using testing::SameBits;
using testing::ToBf16;

TEST(LatentAppend, WritesNormalisedLatentAndRotatedKeyIntoTheSlots) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  for (const char* preset : {"tiny", "v2-lite"}) {
    SCOPED_TRACE(preset);
    auto config = PresetConfig(preset);
    ASSERT_TRUE(config.ok());
    const RopeTable rope = ComputeRope(*config);
    const int lat = static_cast<int>(config->kv_lora_rank);
    const int rd = static_cast<int>(config->qk_rope_head_dim);
    const int width = lat + rd, stride = width + 5, page = kMlaPageSize, pages = 3;
    const int tokens = 7;
    std::mt19937 rng(lat);
    std::normal_distribution<float> dist(0.0f, 1.5f);
    std::vector<float> kv_a(static_cast<size_t>(tokens) * stride);
    for (float& v : kv_a) v = dist(rng);
    const std::vector<float> w = RandomBf16Values(lat, 0.3f, 5);
    std::vector<int32_t> positions = {0, 1, 63, 64, 65, 4000, 163839};
    std::vector<int64_t> slots = {5, 64 + 0, -1, 2 * 64 + 63, 63, 64 + 1, -1};
    std::vector<float> inv_freq(rope.inv_freq.begin(), rope.inv_freq.end());

    std::vector<float> want(static_cast<size_t>(pages) * page * width, NAN);
    for (int t = 0; t < tokens; ++t) {
      if (slots[t] < 0) continue;
      const float* src = kv_a.data() + t * stride;
      double ss = 0;
      for (int i = 0; i < lat; ++i) ss += static_cast<double>(src[i]) * src[i];
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / lat + config->rms_norm_eps));
      float* dst = want.data() + slots[t] * width;
      for (int i = 0; i < lat; ++i) dst[i] = RoundBf16(w[i] * (src[i] * inv));
      std::vector<float> pe(src + lat, src + width);
      ApplyRope(rope, positions[t], pe.data());
      for (int i = 0; i < rd; ++i) dst[lat + i] = RoundBf16(pe[i]);
    }
    DeviceBuffer<float> d_kv(kv_a), d_freq(inv_freq);
    DeviceBuffer<__nv_bfloat16> d_w(ToBf16(w)), d_cache(want.size());
    DeviceBuffer<int32_t> d_pos(positions);
    DeviceBuffer<int64_t> d_slots(slots);
    ASSERT_TRUE(d_cache.Poison());  // NaN everywhere: untouched rows must stay NaN
    LatentAppendParams p{d_kv.get(),
                         stride,
                         d_w.get(),
                         static_cast<float>(config->rms_norm_eps),
                         d_pos.get(),
                         d_freq.get(),
                         static_cast<float>(rope.attention_factor),
                         d_slots.get(),
                         d_cache.get(),
                         tokens,
                         lat,
                         rd};
    ASSERT_EQ(LaunchLatentAppend(p, nullptr), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    // One bf16 rounding; fp32 vs double noise may move a value across a rounding edge.
    EXPECT_TRUE(AllClose(FromBf16(d_cache.Download()), want, 1e-6, 8e-3));
  }
}

struct DecodeCase {
  int lat, rd, heads, page;
  std::vector<int> lens;
  int q_pad = 1;  // query row padding: 1 = scalar query loads, 0 = 16-byte loads (the decoder's)
};

void CheckDecode(const DecodeCase& c) {
  SCOPED_TRACE(::testing::Message() << "latent " << c.lat << " rope " << c.rd << " heads "
                                    << c.heads << " page " << c.page << " batch " << c.lens.size()
                                    << " q_pad " << c.q_pad);
  const int width = c.lat + c.rd, batch = static_cast<int>(c.lens.size());
  int max_pages = 1, total_pages = 0;
  for (int len : c.lens) {
    max_pages = std::max(max_pages, (len + c.page - 1) / c.page);
    total_pages += (len + c.page - 1) / c.page;
  }
  total_pages += 2;  // unused pages in the pool
  std::mt19937 rng(width * 31 + batch);
  // Pages of all sequences interleaved in a shuffled pool.
  std::vector<int32_t> pool(total_pages);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  std::vector<int32_t> table(static_cast<size_t>(batch) * max_pages, -1);
  int next = 0;
  for (int b = 0; b < batch; ++b) {
    for (int k = 0; k < (c.lens[b] + c.page - 1) / c.page; ++k) {
      table[b * max_pages + k] = pool[next++];
    }
  }
  const std::vector<float> cache =
      RandomBf16Values(static_cast<size_t>(total_pages) * c.page * width, 1.0f, 17);
  const int q_head_stride = width + c.q_pad;
  std::normal_distribution<float> dist(0.0f, 0.3f);
  std::vector<float> q(static_cast<size_t>(batch) * c.heads * q_head_stride);
  for (float& v : q) v = dist(rng);
  const float scale = 0.1147213867929261f;

  const int out_head_stride = c.lat + 2;
  std::vector<float> want(static_cast<size_t>(batch) * c.heads * out_head_stride, 0.0f);
  std::vector<float> want_lse(static_cast<size_t>(batch) * c.heads);
  for (int b = 0; b < batch; ++b) {
    for (int h = 0; h < c.heads; ++h) {
      const float* qh = q.data() + (b * c.heads + h) * q_head_stride;
      std::vector<double> s(c.lens[b]);
      double mx = -INFINITY;
      for (int t = 0; t < c.lens[b]; ++t) {
        const float* kv =
            cache.data() +
            (static_cast<size_t>(table[b * max_pages + t / c.page]) * c.page + t % c.page) * width;
        double dot = 0;
        for (int i = 0; i < width; ++i) dot += static_cast<double>(qh[i]) * kv[i];
        s[t] = dot * scale;
        mx = std::max(mx, s[t]);
      }
      double sum = 0;
      for (double& v : s) sum += (v = std::exp(v - mx));
      float* o = want.data() + (b * c.heads + h) * out_head_stride;
      for (int i = 0; i < c.lat; ++i) {
        double acc = 0;
        for (int t = 0; t < c.lens[b]; ++t) {
          acc +=
              s[t] *
              cache[(static_cast<size_t>(table[b * max_pages + t / c.page]) * c.page + t % c.page) *
                        width +
                    i];
        }
        o[i] = c.lens[b] > 0 ? static_cast<float>(acc / sum) : 0.0f;
      }
      for (int i = c.lat; i < out_head_stride; ++i) o[i] = 0.0f;  // padding stays untouched
      want_lse[b * c.heads + h] =
          c.lens[b] > 0 ? static_cast<float>(mx + std::log(sum)) : -INFINITY;
    }
  }

  DeviceBuffer<float> d_q(q);
  DeviceBuffer<__nv_bfloat16> d_cache(ToBf16(cache));
  DeviceBuffer<int32_t> d_table(table), d_lens(std::vector<int32_t>(c.lens.begin(), c.lens.end()));
  ASSERT_TRUE(d_q.ok() && d_cache.ok() && d_table.ok() && d_lens.ok());
  // Without split-KV, with a few splits, and with more splits than tiles (empty splits); 65 and
  // 133 splits: the combine's groups past its early copies (kCombineEarly = 17 splits per group,
  // taken where a block has <= 32 float4 columns per group: batch 1-2 at width 512, tiny widths);
  // 400: lse values past the 384 that the early combine's non-copying threads load.
  for (int splits : {1, 3, 64, 65, 133, 400}) {
    SCOPED_TRACE(::testing::Message() << "splits " << splits);
    DeviceBuffer<float> d_lse(want_lse.size());
    DeviceBuffer<__nv_bfloat16> d_out(want.size());
    const int64_t partial = MlaPartialFloats(splits, batch, c.heads, c.lat);
    DeviceBuffer<float> d_part(std::max<int64_t>(partial, 1)),
        d_part_lse(std::max<int64_t>(partial / c.lat, 1));
    ASSERT_TRUE(d_out.ok() && d_lse.ok() && d_part.ok() && d_part_lse.ok());
    ASSERT_TRUE(d_out.Poison(0));
    ASSERT_TRUE(d_lse.Poison());
    ASSERT_TRUE(d_part.Poison());
    MlaDecodeParams p{d_q.get(),
                      static_cast<int64_t>(c.heads) * q_head_stride,
                      q_head_stride,
                      d_cache.get(),
                      d_table.get(),
                      max_pages,
                      d_lens.get(),
                      d_out.get(),
                      static_cast<int64_t>(c.heads) * out_head_stride,
                      out_head_stride,
                      d_lse.get(),
                      batch,
                      c.heads,
                      c.lat,
                      c.rd,
                      c.page,
                      scale,
                      nullptr,
                      splits,
                      d_part.get(),
                      d_part_lse.get()};
    ASSERT_EQ(LaunchMlaDecode(p, nullptr), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    // o_lat is a convex combination of bf16 values, rounded to bf16 once: 2^-8 relative plus a
    // little absolute slack for outputs near zero.
    const std::vector<__nv_bfloat16> got = d_out.Download();
    const std::vector<float> got_lse = d_lse.Download();
    EXPECT_TRUE(AllClose(FromBf16(got), want, 2e-3, 8e-3));
    EXPECT_TRUE(AllClose(got_lse, want_lse, 1e-5, 1e-5));
    if (splits > 1) {  // the combine without its early copies (the previous kernel): same bits
      ASSERT_TRUE(d_out.Poison(0));
      ASSERT_TRUE(d_lse.Poison());
      ASSERT_TRUE(d_part.Poison());
      ASSERT_EQ(LaunchMlaDecode(p, nullptr, false, true, 0, /*combine_early=*/false), cudaSuccess);
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      EXPECT_TRUE(SameBits(d_out.Download(), got));
      EXPECT_TRUE(SameBits(d_lse.Download(), got_lse));
    }
  }
}

TEST(MlaDecode, SplitCountFillsTheGpuOnceAndNeverExceedsTheTiles) {
  EXPECT_EQ(MlaDecodeSplits(1, 16, 4096, 132), 64);   // batch 1: one 64-token tile per split
  EXPECT_EQ(MlaDecodeSplits(8, 16, 4096, 132), 16);   // 128 blocks
  EXPECT_EQ(MlaDecodeSplits(64, 16, 4096, 132), 2);   // 128 blocks
  EXPECT_EQ(MlaDecodeSplits(256, 16, 4096, 132), 1);  // prefill chunk: rows fill the GPU
  EXPECT_EQ(MlaDecodeSplits(1, 128, 4096, 132), 16);  // V2: 8 head groups
  EXPECT_EQ(MlaDecodeSplits(1, 16, 1, 132), 1);
  EXPECT_EQ(MlaPartialFloats(1, 8, 16, 512), 0);
  EXPECT_EQ(MlaPartialFloats(16, 8, 16, 512), 16 * 8 * 16 * 512);
}

TEST(MlaDecode, MatchesCpuAttentionOverPagedCache) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckDecode({512, 64, 16, kMlaPageSize, {1}});                 // V2-Lite, batch 1, length 1
  CheckDecode({512, 64, 16, kMlaPageSize, {63, 64, 65}});        // page - 1, page, page + 1
  CheckDecode({512, 64, 3, kMlaPageSize, {0, 200, 1, 130, 7}});  // an empty sequence, odd batch
  CheckDecode({32, 16, 4, kMlaPageSize, {1, 63, 64, 65, 300}});  // tiny preset widths
  CheckDecode({40, 8, 4, 16, {17, 1, 33}});                      // odd widths, small pages
  CheckDecode({512, 64, 16, kMlaPageSize, {4096, 1, 2000}});      // long context, split-KV
  CheckDecode({512, 64, 16, kMlaPageSize, {4096}});               // batch 1: early combine copies
  CheckDecode({512, 64, 16, kMlaPageSize, {4000, 129}});          // batch 2: the same
  CheckDecode({512, 64, 16, kMlaPageSize, {1}, 0});              // 16-byte query loads
  CheckDecode({512, 64, 16, kMlaPageSize, {4096, 65, 2000}, 0});  // the same, split-KV
  CheckDecode({40, 8, 20, 16, {17, 1, 33}, 0});                   // odd widths, 2 head groups
  CheckDecode({512, 64, 128, kMlaPageSize, {129}});              // V2's 128 heads
  CheckDecode({512, 128, 16, kMlaPageSize, {1000, 1, 97}});  // the widest row the kernel takes
  CheckDecode({512, 64, 16, 16, {1000, 1, 97}, 0});  // pages smaller than a tile, split-KV
}

// The decoder's 1-2 token chain (gpu_forward.cc): the latent append writes each sequence's
// newest cache row, then the MLA split kernel, launched with PDL and appended_tokens = 1, copies
// every other tile before it waits. Those rows hold NaN until the append writes them, so a tile
// copied too early shows as NaN; the outputs must equal plain launches bit for bit, over repeats.
struct ChainResult {
  std::vector<__nv_bfloat16> out;
  std::vector<float> lse;
};

ChainResult AppendThenDecode(bool pdl, const std::vector<int>& lens, int max_pages,
                             const std::vector<int32_t>& table, const std::vector<float>& cache,
                             const std::vector<float>& q, int splits, cudaStream_t stream) {
  const int lat = 512, rd = 64, heads = 16, width = lat + rd, page = kMlaPageSize;
  const int batch = static_cast<int>(lens.size());
  std::vector<int32_t> positions(batch);
  std::vector<int64_t> slots(batch);
  for (int b = 0; b < batch; ++b) {
    positions[b] = lens[b] - 1;
    slots[b] = static_cast<int64_t>(table[b * max_pages + positions[b] / page]) * page +
               positions[b] % page;
  }
  const std::vector<float> kv_a = RandomBf16Values(static_cast<size_t>(batch) * width, 1.0f, 41);
  DeviceBuffer<float> d_kv(kv_a), d_freq(RandomBf16Values(rd / 2, 0.1f, 43)), d_q(q);
  DeviceBuffer<__nv_bfloat16> d_w(ToBf16(RandomBf16Values(lat, 0.3f, 47))), d_cache(ToBf16(cache));
  DeviceBuffer<int32_t> d_pos(positions), d_table(table),
      d_lens(std::vector<int32_t>(lens.begin(), lens.end()));
  DeviceBuffer<int64_t> d_slots(slots);
  DeviceBuffer<__nv_bfloat16> d_out(static_cast<size_t>(batch) * heads * lat);
  DeviceBuffer<float> d_lse(static_cast<size_t>(batch) * heads);
  const int64_t partial = MlaPartialFloats(splits, batch, heads, lat);
  DeviceBuffer<float> d_part(std::max<int64_t>(partial, 1)),
      d_part_lse(std::max<int64_t>(partial / lat, 1));
  bool ok = d_kv.ok() && d_freq.ok() && d_q.ok() && d_w.ok() && d_cache.ok() && d_pos.ok() &&
            d_table.ok() && d_lens.ok() && d_slots.ok() && d_out.ok() && d_lse.ok() &&
            d_part.ok() && d_part_lse.ok() && d_out.Poison() && d_lse.Poison() && d_part.Poison();
  for (int b = 0; ok && b < batch; ++b) {  // the rows the append writes: NaN until then
    ok = cudaMemset(d_cache.get() + slots[b] * width, 0xff, width * sizeof(__nv_bfloat16)) ==
         cudaSuccess;
  }
  if (!ok) {
    ADD_FAILURE() << "device buffers";
    return {};
  }
  const LatentAppendParams la{d_kv.get(),    width,        d_w.get(), 1e-6f,
                              d_pos.get(),   d_freq.get(), 1.0f,      d_slots.get(),
                              d_cache.get(), batch,        lat,       rd};
  const MlaDecodeParams md{d_q.get(),
                           static_cast<int64_t>(heads) * width,
                           width,
                           d_cache.get(),
                           d_table.get(),
                           max_pages,
                           d_lens.get(),
                           d_out.get(),
                           static_cast<int64_t>(heads) * lat,
                           lat,
                           d_lse.get(),
                           batch,
                           heads,
                           lat,
                           rd,
                           page,
                           0.1147213867929261f,
                           nullptr,
                           splits,
                           d_part.get(),
                           d_part_lse.get()};
  if (LaunchLatentAppend(la, stream, pdl) != cudaSuccess ||
      LaunchMlaDecode(md, stream, pdl, /*pdl_first=*/true, /*appended_tokens=*/pdl ? 1 : 0) !=
          cudaSuccess ||
      cudaStreamSynchronize(stream) != cudaSuccess) {
    ADD_FAILURE() << "launch";
    return {};
  }
  return {d_out.Download(), d_lse.Download()};
}

TEST(MlaDecode, ProgrammaticLaunchAfterTheAppendEqualsPlainLaunchesBitForBit) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  // Batch 1 at a long context (one tile per split, the newest row in the last), and two
  // sequences whose newest rows open a tile (65) and end one (128), over 3 splits.
  const std::vector<std::pair<std::vector<int>, int>> cases = {{{4096}, 64}, {{65, 128}, 3}};
  for (const auto& [lens, splits] : cases) {
    SCOPED_TRACE(::testing::Message() << "batch " << lens.size() << " splits " << splits);
    const int batch = static_cast<int>(lens.size()), width = 576, page = kMlaPageSize;
    int max_pages = 0;
    for (int len : lens) max_pages = std::max(max_pages, (len + page - 1) / page);
    std::vector<int32_t> table(static_cast<size_t>(batch) * max_pages);
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), std::mt19937(7));
    const std::vector<float> cache =
        RandomBf16Values(static_cast<size_t>(table.size()) * page * width, 1.0f, 53);
    const std::vector<float> q =
        RandomBf16Values(static_cast<size_t>(batch) * 16 * width, 0.3f, 59);
    const ChainResult plain =
        AppendThenDecode(false, lens, max_pages, table, cache, q, splits, stream);
    ASSERT_EQ(plain.out.size(), static_cast<size_t>(batch) * 16 * 512);
    for (float v : FromBf16(plain.out)) ASSERT_TRUE(std::isfinite(v)) << "plain launch";
    for (int repeat = 0; repeat < 4; ++repeat) {
      const ChainResult got =
          AppendThenDecode(true, lens, max_pages, table, cache, q, splits, stream);
      EXPECT_TRUE(SameBits(got.out, plain.out)) << "o_lat, repeat " << repeat;
      EXPECT_TRUE(SameBits(got.lse, plain.lse)) << "lse, repeat " << repeat;
    }
  }
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

TEST(MlaDecode, RejectsWidthsOverTheKernelLimitsAndMisalignedCaches) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  DeviceBuffer<float> q(1024);
  DeviceBuffer<__nv_bfloat16> cache(1024), out(1024);
  DeviceBuffer<int32_t> table(1), lens(1);
  MlaDecodeParams p{q.get(),   1024,         1024, cache.get(), table.get(), 1, lens.get(),
                    out.get(), 1024,         1024, nullptr,     1,           1, kMlaMaxLatent + 32,
                    64,        kMlaPageSize, 1.0f, nullptr,     1,           nullptr, nullptr};
  EXPECT_EQ(LaunchMlaDecode(p, nullptr), cudaErrorInvalidValue);
  p.kv_lora = 512;
  p.page_size = 0;
  EXPECT_EQ(LaunchMlaDecode(p, nullptr), cudaErrorInvalidValue);
  p.page_size = kMlaPageSize;
  ASSERT_EQ(cudaMemset(lens.get(), 0, sizeof(int32_t)), cudaSuccess);
  EXPECT_EQ(LaunchMlaDecode(p, nullptr, true, true, /*appended_tokens=*/-1),
            cudaErrorInvalidValue);
  p.cache = cache.get() + 1;  // rows are copied in 16-byte units: the cache must be aligned
  EXPECT_EQ(LaunchMlaDecode(p, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace sieve::cuda
